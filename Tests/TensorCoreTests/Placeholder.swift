import Testing
@Test func placeholder_TensorCoreTests() {}
