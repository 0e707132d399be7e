import Testing
@Test func placeholder_TrainingTests() {}
