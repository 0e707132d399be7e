import Testing
@Test func placeholder_CLIPTests() {}
