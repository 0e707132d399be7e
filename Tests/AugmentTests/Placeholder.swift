import Testing
@Test func placeholder_AugmentTests() {}
