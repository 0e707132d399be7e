import ErrorKinds
import Files
import Foundation

/// CleanCLIP's `classes.py`, read without running it.
///
/// The reference reads the file with `eval(open(path).read())`, so a file is one Python
/// expression: a dict literal whose "classes" entry lists the class names and whose "templates"
/// entry lists prompt lambdas (CleanCLIP's `data/ImageNet1K/validation/classes.py` and the CIFAR
/// files also carry "superclasses", nested lists of names, which are skipped):
/// ```python
/// {
///     "classes": ["airplane", "automobile", ...],
///     "superclasses": [["airplane", "ship"], ...],
///     "templates": [lambda s: f"a bad photo of a {s}.", lambda s: f"a photo of many {s}.", ...]
/// }
/// ```
/// A module of assignments (`classes = [...]`, `templates = [...]`, one per line) is accepted
/// too. Nothing is evaluated: the reader is a small parser for exactly these shapes, namely
/// string literals (quotes ' or ", triple-quoted, prefixes r/u, the usual escapes), lists and
/// tuples of them, dicts with string keys, and `lambda NAME: f"..."` whose only fields are
/// `{NAME}`; comments and trailing commas are allowed. Anything else (a call, an attribute, an
/// operator, another field in a template, brackets that do not balance) is an error naming the
/// line. A template becomes the "{}" form of `ClassList` (`lambda s: f"a photo of a {s}."` is
/// "a photo of a {}.").
package enum ClassesPy {
    package struct Contents: Sendable, Equatable {
        package var classes: [String]
        /// nil when the file has no "templates" entry.
        package var templates: [String]?
    }

    /// Files larger than this are refused before parsing (ImageNet's file is 33 KB).
    package static let maxBytes = 16 << 20
    /// Bracket nesting deeper than this is refused (the reference's files nest 2 deep).
    package static let maxDepth = 32

    /// Reads and parses `path`; errors are `EvaluationError`s naming the file (and the line).
    package static func read(path: String) throws -> Contents {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path) } catch let e as FileError {
            throw EvaluationError("\(path): cannot read the file (\(e.reason))", kind: e.errorKind)
        }
        guard bytes.count <= maxBytes else {
            throw EvaluationError("\(path): \(bytes.count) bytes is too large for a classes.py (at most \(maxBytes))", kind: .malformedFile)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw EvaluationError("\(path): not UTF-8 text", kind: .malformedFile)
        }
        return try parse(text, path: path)
    }

    /// Whether a class file should be read as a classes.py: its name ends in ".py".
    package static func isClassesPy(path: String) -> Bool { path.lowercased().hasSuffix(".py") }

    package static func parse(_ text: String, path: String = "<classes.py>") throws -> Contents {
        var p = Parser(scalars: Array(text.unicodeScalars), path: path)
        return try p.file()
    }

    /// A parsed value. Positions are 1-based lines, for messages.
    fileprivate indirect enum Value {
        case string(String, fString: Bool, line: Int)
        case sequence([Value], line: Int)
        case dict([(String, Value)], line: Int)
        case template(String, line: Int)

        var line: Int {
            switch self {
            case .string(_, _, let l), .sequence(_, let l), .dict(_, let l), .template(_, let l): return l
            }
        }
        var what: String {
            switch self {
            case .string(_, let f, _): return f ? "an f-string" : "a string"
            case .sequence: return "a list"
            case .dict: return "a dict"
            case .template: return "a lambda"
            }
        }
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        let path: String
        var i = 0
        var line = 1
        var depth = 0

        init(scalars: [Unicode.Scalar], path: String) {
            self.scalars = scalars
            self.path = path
        }

        func error(_ message: String, line: Int? = nil) -> EvaluationError {
            EvaluationError("\(path), line \(line ?? self.line): \(message) (classes.py is parsed, never run: "
                            + "only a dict literal or `name = [...]` lines of strings and `lambda s: f\"...{s}...\"` templates are read)",
                            kind: .malformedFile)
        }

        var atEnd: Bool { i >= scalars.count }
        var current: Unicode.Scalar? { atEnd ? nil : scalars[i] }

        /// Skips spaces, newlines, comments and backslash-newline continuations.
        mutating func skipSpace() {
            while let c = current {
                if c == "\n" { line += 1; i += 1 }
                else if c == " " || c == "\t" || c == "\r" || c == "\u{0C}" { i += 1 }
                else if c == "\u{FEFF}" && i == 0 { i += 1 }
                else if c == "#" { while let d = current, d != "\n" { i += 1 } }
                else if c == "\\", i + 1 < scalars.count, scalars[i + 1] == "\n" { i += 2; line += 1 }
                else { return }
            }
        }

        mutating func expect(_ c: Unicode.Scalar, _ context: String) throws {
            skipSpace()
            guard current == c else { throw error("expected '\(c)' \(context), found \(describeCurrent())") }
            i += 1
        }

        func describeCurrent() -> String {
            guard let c = current else { return "the end of the file" }
            if isIdentifierStart(c) {
                var j = i
                while j < scalars.count, isIdentifierPart(scalars[j]) { j += 1 }
                return "'\(String(String.UnicodeScalarView(scalars[i..<j])))'"
            }
            return "'\(c.escaped(asASCII: false))'"
        }

        func isIdentifierStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c.properties.isAlphabetic }
        func isIdentifierPart(_ c: Unicode.Scalar) -> Bool { isIdentifierStart(c) || ("0"..."9").contains(c) }

        mutating func identifier() -> String? {
            skipSpace()
            guard let c = current, isIdentifierStart(c) else { return nil }
            let start = i
            while let d = current, isIdentifierPart(d) { i += 1 }
            return String(String.UnicodeScalarView(scalars[start..<i]))
        }

        // MARK: file

        mutating func file() throws -> Contents {
            skipSpace()
            var entries: [(String, Value)] = []
            var names: Set<String> = []
            if current == "{" {
                entries = try dict()
                skipSpace()
                if !atEnd { throw error("unexpected \(describeCurrent()) after the dict") }
            } else {
                while true {
                    skipSpace()
                    if atEnd { break }
                    let at = line
                    guard let name = identifier() else { throw error("unexpected \(describeCurrent())") }
                    skipSpace()
                    guard current == "=" else {
                        throw error("expected '=' after '\(name)' (an assignment), found \(describeCurrent())", line: at)
                    }
                    i += 1
                    let v = try value()
                    if !names.insert(name).inserted { throw error("'\(name)' is assigned twice", line: at) }
                    entries.append((name, v))
                    // One assignment per line (or separated by ';').
                    while let c = current, c == " " || c == "\t" || c == "\r" { i += 1 }
                    if current == "#" { skipSpace() } else if current == ";" { i += 1 }
                    else if let c = current, c != "\n" { throw error("unexpected \(describeCurrent()) after the value of '\(name)'") }
                }
            }
            return try contents(entries)
        }

        func contents(_ entries: [(String, Value)]) throws -> Contents {
            guard let classValue = entries.first(where: { $0.0 == "classes" })?.1 else {
                throw EvaluationError("\(path): no \"classes\" entry (found: \(entries.map { "\"\($0.0)\"" }.joined(separator: ", ")))",
                                      kind: .malformedFile)
            }
            guard case .sequence(let items, _) = classValue else {
                throw error("\"classes\" must be a list of strings, found \(classValue.what)", line: classValue.line)
            }
            let classes = try items.map { item -> String in
                guard case .string(let s, false, _) = item else {
                    throw error("a class name must be a plain string, found \(item.what)", line: item.line)
                }
                return s
            }
            guard !classes.isEmpty else { throw error("\"classes\" is empty", line: classValue.line) }
            var templates: [String]?
            if let t = entries.first(where: { $0.0 == "templates" })?.1 {
                guard case .sequence(let items, _) = t else {
                    throw error("\"templates\" must be a list of lambdas, found \(t.what)", line: t.line)
                }
                templates = try items.map { item -> String in
                    guard case .template(let s, _) = item else {
                        throw error("a template must be `lambda s: f\"...{s}...\"`, found \(item.what)", line: item.line)
                    }
                    return s
                }
                guard !templates!.isEmpty else { throw error("\"templates\" is empty", line: t.line) }
            }
            return Contents(classes: classes, templates: templates)
        }

        // MARK: values

        mutating func value() throws -> Value {
            skipSpace()
            let at = line
            guard let c = current else { throw error("expected a value, found the end of the file") }
            switch c {
            case "[", "(":
                return .sequence(try sequence(close: c == "[" ? "]" : ")"), line: at)
            case "{":
                return .dict(try dict(), line: at)
            case "\"", "'":
                let s = try stringLiteral(raw: false, f: false)
                return .string(s.text, fString: false, line: at)
            default:
                guard let name = identifier() else { throw error("unexpected \(describeCurrent())") }
                if name == "lambda" { return try lambda(line: at) }
                let prefix = name.lowercased()
                if ["r", "u", "f", "rf", "fr"].contains(prefix), let q = current, q == "\"" || q == "'" {
                    let s = try stringLiteral(raw: prefix.contains("r"), f: prefix.contains("f"))
                    if prefix.contains("f") && s.fields.count > 0 {
                        throw error("an f-string with fields is only read as a lambda's body", line: at)
                    }
                    return .string(s.text, fString: prefix.contains("f"), line: at)
                }
                throw error("'\(name)' is not read here (names, calls and other expressions are not evaluated)", line: at)
            }
        }

        mutating func enter(_ open: Unicode.Scalar) throws {
            depth += 1
            if depth > maxDepth { throw error("brackets nest deeper than \(maxDepth)") }
            i += 1
            _ = open
        }

        mutating func sequence(close: Unicode.Scalar) throws -> [Value] {
            let open: Unicode.Scalar = close == "]" ? "[" : "(", openLine = line
            try enter(open)
            defer { depth -= 1 }
            var items: [Value] = []
            while true {
                skipSpace()
                if atEnd { throw error("'\(open)' opened on line \(openLine) is never closed", line: openLine) }
                if current == close { i += 1; return items }
                items.append(try value())
                skipSpace()
                if current == "," { i += 1; continue }
                if current == close { i += 1; return items }
                if atEnd { throw error("'\(open)' opened on line \(openLine) is never closed", line: openLine) }
                throw error("expected ',' or '\(close)' in the \(close == "]" ? "list" : "tuple") opened on line \(openLine), found \(describeCurrent())")
            }
        }

        mutating func dict() throws -> [(String, Value)] {
            let openLine = line
            try enter("{")
            defer { depth -= 1 }
            var entries: [(String, Value)] = []
            var keys: Set<String> = []  // a set: a file of a million keys must not take quadratic time
            while true {
                skipSpace()
                if atEnd { throw error("'{' opened on line \(openLine) is never closed", line: openLine) }
                if current == "}" { i += 1; return entries }
                let keyLine = line
                guard case .string(let key, false, _) = try value() else {
                    throw error("a dict key must be a plain string", line: keyLine)
                }
                try expect(":", "after the key \"\(key)\"")
                let v = try value()
                if !keys.insert(key).inserted { throw error("the key \"\(key)\" appears twice", line: keyLine) }
                entries.append((key, v))
                skipSpace()
                if current == "," { i += 1; continue }
                if current == "}" { i += 1; return entries }
                if atEnd { throw error("'{' opened on line \(openLine) is never closed", line: openLine) }
                throw error("expected ',' or '}' in the dict opened on line \(openLine), found \(describeCurrent())")
            }
        }

        /// `lambda NAME: f"..."` (the keyword already read): the template in "{}" form.
        mutating func lambda(line at: Int) throws -> Value {
            guard let parameter = identifier() else { throw error("expected the lambda's parameter name, found \(describeCurrent())") }
            try expect(":", "after `lambda \(parameter)`")
            skipSpace()
            let bodyLine = line
            var raw = false, f = false
            if let c = current, c != "\"" && c != "'" {
                guard let prefix = identifier()?.lowercased(), ["f", "rf", "fr"].contains(prefix), let q = current, q == "\"" || q == "'" else {
                    throw error("a template's body must be an f-string like f\"a photo of a {\(parameter)}.\"", line: bodyLine)
                }
                raw = prefix.contains("r"); f = true
            }
            guard f else { throw error("a template's body must be an f-string like f\"a photo of a {\(parameter)}.\"", line: bodyLine) }
            let s = try stringLiteral(raw: raw, f: true)
            if let bad = s.fields.first(where: { $0 != parameter }) {
                throw error("the template field {\(bad)} is not the lambda's parameter {\(parameter)}", line: bodyLine)
            }
            if s.text.contains("{") || s.text.contains("}") {
                throw error("literal braces in a template are not supported", line: bodyLine)
            }
            guard !s.fields.isEmpty else { throw error("the template never uses {\(parameter)}", line: bodyLine) }
            return .template(s.pieces.joined(separator: "{}"), line: at)
        }

        /// A string literal at the opening quote. For f-strings, `fields` lists the `{...}`
        /// contents and `pieces` the literal text between them (`{{`, `}}` unescaped).
        mutating func stringLiteral(raw: Bool, f: Bool) throws -> (text: String, pieces: [String], fields: [String]) {
            let quote = scalars[i], startLine = line
            var triple = false
            if i + 2 < scalars.count, scalars[i + 1] == quote, scalars[i + 2] == quote { triple = true; i += 3 } else { i += 1 }
            var pieces: [String] = [], fields: [String] = []
            var piece = String.UnicodeScalarView()
            func unterminated() -> EvaluationError { error("the string starting here is never closed", line: startLine) }
            while true {
                guard let c = current else { throw unterminated() }
                if c == quote {
                    if !triple { i += 1; break }
                    if i + 2 < scalars.count, scalars[i + 1] == quote, scalars[i + 2] == quote { i += 3; break }
                }
                if c == "\n" {
                    if !triple { throw unterminated() }
                    line += 1
                }
                if c == "\\" && raw {
                    // A raw string keeps its backslashes; one before a quote or a backslash still
                    // keeps that character in the string (r"\"" is backslash, quote).
                    piece.append(c); i += 1
                    if let e = current, e == quote || e == "\\" { piece.append(e); i += 1 }
                    continue
                }
                if c == "\\" && !raw {
                    i += 1
                    guard let e = current else { throw unterminated() }
                    i += 1
                    switch e {
                    case "\n": line += 1
                    case "\\", "'", "\"": piece.append(e)
                    case "n": piece.append("\n")
                    case "t": piece.append("\t")
                    case "r": piece.append("\r")
                    case "a": piece.append("\u{07}")
                    case "b": piece.append("\u{08}")
                    case "f": piece.append("\u{0C}")
                    case "v": piece.append("\u{0B}")
                    case "x", "u", "U":
                        let n = e == "x" ? 2 : e == "u" ? 4 : 8
                        guard i + n <= scalars.count,
                              let v = UInt32(String(String.UnicodeScalarView(scalars[i..<(i + n)])), radix: 16),
                              let s = Unicode.Scalar(v) else { throw error("bad \\\(e) escape in a string") }
                        piece.append(s); i += n
                    case "0"..."7":
                        var v = e.value - 48, k = 1
                        while k < 3, let d = current, ("0"..."7").contains(d) { v = v * 8 + d.value - 48; i += 1; k += 1 }
                        piece.append(Unicode.Scalar(v)!)
                    case "N": throw error("\\N{...} escapes are not supported")
                    default: piece.append("\\"); piece.append(e)  // Python keeps unknown escapes
                    }
                    continue
                }
                if f && (c == "{" || c == "}") {
                    if i + 1 < scalars.count, scalars[i + 1] == c { piece.append(c); i += 2; continue }
                    guard c == "{" else { throw error("a single '}' in an f-string") }
                    let fieldLine = line
                    var j = i + 1, field = String.UnicodeScalarView()
                    while j < scalars.count, scalars[j] != "}", scalars[j] != quote, scalars[j] != "\n" { field.append(scalars[j]); j += 1 }
                    guard j < scalars.count, scalars[j] == "}" else { throw error("an f-string field is never closed", line: fieldLine) }
                    let name = String(field).trimmingCharacters(in: .whitespaces)
                    guard let first = name.unicodeScalars.first, isIdentifierStart(first), name.unicodeScalars.allSatisfy(isIdentifierPart) else {
                        throw error("the f-string field {\(String(field))} is not a plain name (expressions are not evaluated)", line: fieldLine)
                    }
                    pieces.append(String(piece)); piece = String.UnicodeScalarView()
                    fields.append(name)
                    i = j + 1
                    continue
                }
                piece.append(c); i += 1
            }
            pieces.append(String(piece))
            return (pieces.joined(), pieces, fields)
        }
    }
}

extension ClassesPy {
    /// The templates of the classes.py at `path` ("{}" form), or an error when it has none
    /// (CleanCLIP's `create_backdoor_data.py --templates classes.py`).
    package static func templates(path: String) throws -> [String] {
        guard let t = try read(path: path).templates else {
            throw EvaluationError("\(path): no \"templates\" entry", kind: .malformedFile)
        }
        return t
    }
}

extension ClassList {
    /// The templates in a templates file: a classes.py's "templates" (see `ClassesPy`), else one
    /// per line, blank lines skipped (as `load` reads a class file).
    package static func loadTemplates(_ path: String) throws -> [String] {
        try ClassesPy.isClassesPy(path: path) ? ClassesPy.templates(path: path) : load(classesFile: path).names
    }
}
