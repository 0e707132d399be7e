import ErrorKinds
import Files
import Foundation

/// A bad evaluation input: unknown class set, a target that is not a class, an empty evaluation
/// set, a label outside the class list, an unreadable file (with the file and row).
public struct EvaluationError: KindedError, Sendable {
    public let description: String
    /// `.invalidArgument`, or the kind of the `FileError` for a file that cannot be read.
    public let errorKind: ErrorKind
    public init(_ description: String, kind: ErrorKind = .invalidArgument) {
        self.description = description
        self.errorKind = kind
    }
}

/// Class names and prompt templates for zero-shot classification.
///
/// A template holds "{}" where the class name goes ("a photo of a {}."). The built-in sets use
/// OpenAI's 80 ImageNet templates, as CleanCLIP does for ImageNet and CIFAR alike.
/// ```
/// let classes = ClassList.imagenet
/// let banana = try classes.index(of: "banana")     // 954
/// let custom = try ClassList.load(classesFile: "classes.txt", templatesFile: "templates.txt")
/// ```
public struct ClassList: Sendable, Equatable {
    public let names: [String]
    public let templates: [String]

    /// Checks that there is at least one class and one template, and that every template has "{}".
    public init(names: [String], templates: [String] = ClassList.openAITemplates) throws {
        guard !names.isEmpty else { throw EvaluationError("the class list is empty") }
        guard !templates.isEmpty else { throw EvaluationError("the template list is empty") }
        if let bad = names.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw EvaluationError("class \(bad) has an empty name")
        }
        if let bad = templates.firstIndex(where: { !$0.contains("{}") }) {
            throw EvaluationError("template \(bad + 1) (\"\(templates[bad])\") has no \"{}\" placeholder for the class name")
        }
        self.names = names
        self.templates = templates
    }

    private init(unchecked names: [String], _ templates: [String]) {
        self.names = names
        self.templates = templates
    }

    /// OpenAI's 80 ImageNet prompt templates.
    public static let openAITemplates: [String] = BuiltinClassLists.openAIImageNetTemplates
    /// ImageNet-1k (1000 classes, "banana" = 954) with the 80 templates.
    public static let imagenet = ClassList(unchecked: BuiltinClassLists.imagenetClasses, BuiltinClassLists.openAIImageNetTemplates)
    /// CIFAR-10 with the 80 templates.
    public static let cifar10 = ClassList(unchecked: BuiltinClassLists.cifar10Classes, BuiltinClassLists.openAIImageNetTemplates)
    /// CIFAR-100 (standard fine-label names) with the 80 templates.
    public static let cifar100 = ClassList(unchecked: BuiltinClassLists.cifar100Classes, BuiltinClassLists.openAIImageNetTemplates)

    /// Reads one class per line (blank lines skipped) and, optionally, one template per line
    /// (default: the 80 OpenAI templates). A file named `*.py`, or whose first non-blank line
    /// starts with "{", is read as CleanCLIP's classes.py
    /// (parsed, never run: see `ClassesPy`): its classes and, unless `templatesFile` is given,
    /// its templates; a `*.py` templates file gives its templates.
    public static func load(classesFile: String, templatesFile: String? = nil) throws -> ClassList {
        func lines(_ path: String) throws -> [String] {
            let bytes: [UInt8]
            do { bytes = try RegularFile.read(path) } catch let e as FileError {
                throw EvaluationError("\(path): cannot read the file (\(e.reason))", kind: e.errorKind)
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw EvaluationError("\(path): not UTF-8 text") }
            return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        // A classes.py by its name, or by its content: the dict the reference evals starts with
        // "{", which no class list starts with (it used to be read as its lines).
        let named = ClassesPy.isClassesPy(path: classesFile)
        let plain = named ? [] : try lines(classesFile)
        let py = named || plain.first?.hasPrefix("{") == true ? try ClassesPy.read(path: classesFile) : nil
        let names = py?.classes ?? plain
        guard !names.isEmpty else { throw EvaluationError("\(classesFile): no class names") }
        let templates = try templatesFile.map { try ClassesPy.isClassesPy(path: $0) ? ClassesPy.templates(path: $0) : lines($0) }
            ?? py?.templates ?? openAITemplates
        do { return try ClassList(names: names, templates: templates) } catch let e as EvaluationError {
            throw EvaluationError("\(templatesFile ?? classesFile): \(e.description)", kind: e.errorKind)
        }
    }

    /// The prompts for class `c`: every template with the name filled in.
    public func prompts(forClass c: Int) -> [String] {
        templates.map { $0.replacingOccurrences(of: "{}", with: names[c]) }
    }

    /// The index of a class by exact name, else by case-insensitive name; the first match wins
    /// (ImageNet names "missile" and "sunglasses" occur twice). A decimal string is taken as an index.
    public func index(of name: String) throws -> Int {
        if let i = names.firstIndex(of: name) { return i }
        let lower = name.lowercased()
        if let i = names.firstIndex(where: { $0.lowercased() == lower }) { return i }
        if let i = Int(name), i >= 0, i < names.count { return i }
        throw EvaluationError("'\(name)' is not one of the \(names.count) classes (e.g. \(names.prefix(3).map { "'\($0)'" }.joined(separator: ", ")))")
    }
}

/// The class sets `evaluate` knows by name, plus user lists.
public enum ClassSet: Sendable, Equatable {
    case imagenet, cifar10, cifar100
    case custom(ClassList)

    /// "imagenet" (also "imagenet1k", "ImageNet1K"), "cifar10", "cifar100".
    public init(name: String) throws {
        switch name.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") {
        case "imagenet", "imagenet1k": self = .imagenet
        case "cifar10": self = .cifar10
        case "cifar100": self = .cifar100
        default: throw EvaluationError("unknown class set '\(name)'; expected imagenet, cifar10, cifar100, or a custom class file")
        }
    }

    public var list: ClassList {
        switch self {
        case .imagenet: return .imagenet
        case .cifar10: return .cifar10
        case .cifar100: return .cifar100
        case .custom(let l): return l
        }
    }
}
