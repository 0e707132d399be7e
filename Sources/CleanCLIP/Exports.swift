// The `CleanCLIP` module is the library's Swift face: importing it brings in the tensor core,
// checkpoint formats, tokenizer, image I/O and CLIP models, plus the method built on them, and
// the kinds of their errors.
@_exported import CLIP
@_exported import ErrorKinds
@_exported import Files
@_exported import Checkpoint
@_exported import ImageIO
@_exported import TensorCore
@_exported import Tokenizer
