import Testing
@Test func placeholder_BackdoorTests() {}
