// Checkpoint module
