import CleanCLIP
import Foundation
import Testing

/// Committed classes.py samples shaped like CleanCLIP's (and hostile ones).
let classesFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").appendingPathComponent("classes")

/// Issue 14, item 3: CleanCLIP's classes.py (read by the reference with `eval`) was read as
/// lines, i.e. as 6 class names. It is now parsed, never run, and anything outside the shapes
/// CleanCLIP's files use is an error naming the line.
@Suite struct ClassesPyTests {
    func fixture(_ name: String) -> String { classesFixtures.appendingPathComponent(name).path }

    @Test func readsTheImageNetShape() throws {
        let c = try ClassesPy.read(path: fixture("imagenet_shape.py"))
        #expect(c.classes == ["tench", "goldfish", "kite (bird of prey)", "yellow lady's slipper", "banana"])
        #expect(c.templates == ["a bad photo of a {}.", "a photo of many {}.", "a {} in a video game.", "itap of my {}."])
    }

    @Test func readsTheCIFARShapeThroughClassList() throws {
        let list = try ClassList.load(classesFile: fixture("cifar10_shape.py"))
        #expect(list.names == ClassList.cifar10.names)
        #expect(list.templates == ["a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}."])
        #expect(list.prompts(forClass: 3).first == "a bad photo of a cat.")
    }

    /// The reference's file under another name is still read as one, not as its lines.
    @Test func aClassesPyByContent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("classespy-txt-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let txt = dir + "/classes.txt"
        try? FileManager.default.removeItem(atPath: txt)
        try FileManager.default.copyItem(atPath: fixture("cifar10_shape.py"), toPath: txt)
        let list = try ClassList.load(classesFile: txt)
        #expect(list.names.count == 10 && list.templates.count == 3)
        // A plain list is still a plain list.
        try "cat\ndog\n".write(toFile: dir + "/plain.txt", atomically: true, encoding: .utf8)
        #expect(try ClassList.load(classesFile: dir + "/plain.txt").names == ["cat", "dog"])
    }

    @Test func readsAssignmentsQuotesTuplesAndComments() throws {
        let c = try ClassesPy.read(path: fixture("assignments.py"))
        #expect(c.classes == ["cat", "dog", "it's a \"bird\""])
        #expect(c.templates == ["a photo of a {}.", "itap of my {}."])
    }

    @Test func aTemplatesFileOverridesTheFilesOwn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("classespy-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let t = dir + "/t.txt"
        try "a drawing of a {}.\n".write(toFile: t, atomically: true, encoding: .utf8)
        let list = try ClassList.load(classesFile: fixture("imagenet_shape.py"), templatesFile: t)
        #expect(list.templates == ["a drawing of a {}."])
        // And a classes.py as the templates file gives its templates.
        let both = try ClassList.load(classesFile: fixture("assignments.py"), templatesFile: fixture("cifar10_shape.py"))
        #expect(both.names == ["cat", "dog", "it's a \"bird\""] && both.templates.count == 3)
    }

    @Test(arguments: [
        ("hostile_eval.py", "line 2", "'__import__' is not read here"),
        ("hostile_field.py", "line 3", "{s.__class__.__mro__} is not a plain name"),
        ("hostile_unbalanced.py", "line 3", "expected ',' or ']' in the list opened on line 2"),
        ("hostile_unclosed.py", "line 1", "'{' opened on line 1 is never closed"),
        ("hostile_statement.py", "line 1", "expected '=' after 'import'"),
    ])
    func hostileFilesAreErrorsNamingTheLine(_ name: String, _ line: String, _ fragment: String) throws {
        #expect(!FileManager.default.fileExists(atPath: "/tmp/cleanclip-classes-pwned"))
        let e = try #require(throws: EvaluationError.self) { try ClassList.load(classesFile: fixture(name)) }
        #expect(e.description.contains("\(name), \(line):"), "\(e)")
        #expect(e.description.contains(fragment), "\(e)")
        #expect(e.errorKind == .malformedFile)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/cleanclip-classes-pwned"))
    }

    @Test(arguments: [
        ("{\"classes\": [\"a\"], \"templates\": [lambda s: \"a photo of a \" + s]}", "line 1", "must be an f-string"),
        ("{\"classes\": [\"a\"], \"templates\": [lambda s: f\"a photo of a {t}.\"]}", "line 1", "{t} is not the lambda's parameter {s}"),
        ("{\"classes\": [\"a\"], \"templates\": [\"a photo of a {}.\"]}", "line 1", "a template must be `lambda"),
        ("{\"classes\": [\"a\"],\n \"templates\": [lambda s: f\"{s:>10}\"]}", "line 2", "is not a plain name"),
        ("{\"classes\": [\"a\", \"b\"]]}", "line 1", "expected ',' or '}'"),
        ("{\"classes\": [\"a\"], \"classes\": [\"b\"]}", "line 1", "appears twice"),
        ("{\"classes\": [\"a\n\"]}", "line 1", "never closed"),
        ("{\"classes\": [1, 2]}", "line 1", "unexpected '1'"),
        ("{\"classes\": []}", "line 1", "\"classes\" is empty"),
        ("[\"cat\", \"dog\"]", "line 1", "unexpected '['"),
        ("x = " + String(repeating: "[", count: 10_000), "line 1", "nest deeper than"),
        ("{\"classes\": [\"a\"]} + 1", "line 1", "after the dict"),
    ])
    func malformedSourceIsAnErrorNamingTheLine(_ source: String, _ line: String, _ fragment: String) throws {
        let e = try #require(throws: EvaluationError.self) { try ClassesPy.parse(source, path: "x.py") }
        #expect(e.description.contains("x.py, \(line):"), "\(e)")
        #expect(e.description.contains(fragment), "\(e)")
    }

    @Test func missingEntriesAreNamed() throws {
        let e = try #require(throws: EvaluationError.self) { try ClassesPy.parse("{\"names\": [\"a\"]}", path: "x.py") }
        #expect(e.description.contains("no \"classes\" entry") && e.description.contains("\"names\""), "\(e)")
        // No "templates": the caller's default (OpenAI's 80) applies.
        #expect(try ClassesPy.parse("{\"classes\": [\"a\"]}").templates == nil)
    }

    @Test func escapesAndPrefixes() throws {
        let c = try ClassesPy.parse(#"{"classes": ["caf\u00e9", r"a\b", u'x\ty', """tri"ple"""], "templates": [lambda s: rf"\d {s}", lambda s: f"{ s }!"],}"#)
        #expect(c.classes == ["café", "a\\b", "x\ty", "tri\"ple"])
        #expect(c.templates == ["\\d {}", "{}!"])
    }
}
