import Testing
@Test func placeholder_ImageIOTests() {}
