// CABI module
