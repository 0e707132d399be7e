import Testing
@Test func placeholder_CheckpointTests() {}
