import ErrorKinds

// The kinds of the method's errors whose kind follows from their type alone, in one place.
// (`DatasetError` and `EvaluationError` carry theirs: they wrap file errors.)

/// Bad settings, a non-finite loss, a checkpoint that does not belong to the run being resumed.
extension FinetuneError: KindedError {
    public var errorKind: ErrorKind { .invalidArgument }
}

/// Optimizer state that does not fit the model (missing or extra entries, other shapes, a bad
/// step count): the state given is not one for these parameters.
extension OptimizerStateError: KindedError {
    public var errorKind: ErrorKind { .invalidArgument }
}

/// A trigger that cannot be built or applied with the settings given.
extension TriggerError: KindedError {
    public var errorKind: ErrorKind { .invalidArgument }
}

/// Too few points for `k`, a non-finite embedding, labels that do not match the scores.
extension ScoringError: KindedError {
    public var errorKind: ErrorKind { .invalidArgument }
}

extension WordNetError: KindedError {
    public var errorKind: ErrorKind {
        switch self {
        case .notInstalled: return .notFound
        case .malformed: return .malformedFile
        }
    }
}
