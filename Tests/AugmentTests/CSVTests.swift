import CleanCLIP
import Foundation
import Testing

@Test func csvHandlesQuotesNewlinesBOMAndCRLF() throws {
    let text = "\u{FEFF}image,caption\r\n"
        + "a.jpg,\"a dog, running\"\r\n"
        + "b.jpg,\"she said \"\"hi\"\"\"\r\n"
        + "c.jpg,\"two\nlines\"\n"
        + "\n"
        + "d.jpg,plain\n"
        + "e.jpg,"
    let t = try CSV.parse(text, path: "t.csv")
    #expect(t.header == ["image", "caption"])
    #expect(t.rows.map { $0[1] } == ["a dog, running", "she said \"hi\"", "two\nlines", "plain", ""])
    #expect(t.lines == [2, 3, 4, 7, 8])
    #expect(try t.column("caption") == 1)
}

@Test func csvHonoursOtherDelimiters() throws {
    let t = try CSV.parse("image\tcaption\nx.png\ta, b\n", delimiter: "\t")
    #expect(t.rows == [["x.png", "a, b"]])
}

@Test func csvErrorsNameFileAndRow() {
    #expect(throws: DatasetError.self) { try CSV.parse("", path: "empty.csv") }
    do {
        _ = try CSV.parse("image,caption\na.jpg,ok\nb.jpg\n", path: "short.csv")
        Issue.record("expected an error")
    } catch let e as DatasetError {
        #expect(e.kind == .malformedCSV && e.row == 2 && e.description.contains("short.csv"))
    } catch { Issue.record("\(error)") }
    do {
        _ = try CSV.parse("image,caption\na.jpg,\"open\n", path: "open.csv")
        Issue.record("expected an error")
    } catch let e as DatasetError {
        #expect(e.kind == .malformedCSV && e.row == 1 && e.description.contains("unterminated"))
    } catch { Issue.record("\(error)") }
    do {
        _ = try CSV.parse("img,caption\na.jpg,x\n", path: "cols.csv").column("image")
        Issue.record("expected an error")
    } catch let e as DatasetError {
        #expect(e.kind == .missingColumn && e.description.contains("'img'"))
    } catch { Issue.record("\(error)") }
}
