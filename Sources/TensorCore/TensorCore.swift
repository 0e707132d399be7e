// TensorCore module
