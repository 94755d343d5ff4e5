import ClusterConfig
import Foundation
import Testing

/// toml++ through our reader against Python's tomllib on a corpus of valid and invalid files
/// (Fixtures/toml; the expected values come from scripts/fixtures/toml_corpus.py).
@Suite("TOML corpus")
struct TOMLCorpusTests {
    static let corpus = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("toml")

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.filter { $0.hasSuffix(".toml") }.sorted()
    }()

    @Test("the corpus holds valid and invalid files, each with its expected JSON")
    func corpusIsComplete() {
        #expect(Self.files.filter { $0.hasPrefix("valid-") }.count >= 20)
        #expect(Self.files.filter { $0.hasPrefix("invalid-") }.count >= 15)
        for file in Self.files {
            let expected = Self.corpus.appendingPathComponent(file.dropLast(5) + ".expected.json").path
            #expect(FileManager.default.fileExists(atPath: expected), "\(file) has no expected JSON")
        }
    }

    @Test("reads each file as tomllib does", arguments: files)
    func matchesTomllib(file: String) throws {
        let path = Self.corpus.appendingPathComponent(file).path
        let json = try Data(contentsOf: Self.corpus.appendingPathComponent(file.dropLast(5) + ".expected.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        if expected["invalid"] as? Bool == true {
            do {
                let document = try TOMLDocument(contentsOfFile: path)
                Issue.record("\(file) is invalid TOML but was read as \(document.root)")
            } catch {
                #expect(error.position.line > 0 && error.position.column > 0, "\(error)")
                #expect(error.description.hasPrefix("\(path):\(error.position.line):\(error.position.column): "))
            }
        } else {
            let document = try TOMLDocument(contentsOfFile: path)
            let differences = Self.differences(TOMLNode(.table(document.root), at: TOMLPosition(line: 1, column: 1)),
                                               expected, path: "")
            #expect(differences.isEmpty, "\(file):\n\(differences.joined(separator: "\n"))")
        }
    }

    @Test("every node carries the line and column where it starts")
    func positions() throws {
        let text = "title = \"x\"\n[owner]\n  name = 1\n  dates = [1979-05-27, 2.5]\n[[items]]\nid = { a = true }\n"
        let root = try TOMLDocument(string: text, sourceName: "p.toml").root
        #expect(root["title"]?.position == TOMLPosition(line: 1, column: 9))
        #expect(root.entry("title")?.keyPosition == TOMLPosition(line: 1, column: 1))
        guard case .table(let owner)? = root["owner"]?.value else { Issue.record("owner is not a table"); return }
        #expect(root["owner"]?.position == TOMLPosition(line: 2, column: 1))
        #expect(owner["name"]?.position == TOMLPosition(line: 3, column: 10))
        #expect(owner.entry("name")?.keyPosition == TOMLPosition(line: 3, column: 3))
        guard case .array(let dates)? = owner["dates"]?.value else { Issue.record("dates is not an array"); return }
        #expect(dates.map(\.position) == [TOMLPosition(line: 4, column: 12), TOMLPosition(line: 4, column: 24)])
        guard case .array(let items)? = root["items"]?.value, case .table(let item) = items[0].value else {
            Issue.record("items is not an array of tables"); return
        }
        #expect(item["id"]?.position == TOMLPosition(line: 6, column: 6))
    }

    @Test("integers beyond int64 are rejected (tomllib reads them as big integers)")
    func integerOverflow() {
        #expect(throws: TOMLParseError.self) { try TOMLDocument(string: "n = 9223372036854775808", sourceName: "n.toml") }
    }

    @Test("a file that cannot be read fails naming it")
    func missingFile() {
        do {
            _ = try TOMLDocument(contentsOfFile: "/no/such/cluster.toml")
            Issue.record("read a missing file")
        } catch {
            #expect(error.source == "/no/such/cluster.toml")
            #expect(error.description.hasPrefix("/no/such/cluster.toml:"))
        }
    }

    /// Where `node` differs from tomllib's tagged JSON `expected`, one line per difference.
    static func differences(_ node: TOMLNode, _ expected: [String: Any], path: String) -> [String] {
        let here = path.isEmpty ? "(root)" : path
        guard let type = expected["type"] as? String, let value = expected["value"] else {
            return ["\(here): malformed expected JSON \(expected)"]
        }
        guard node.value.typeName == type else { return ["\(here): type \(node.value.typeName), tomllib \(type)"] }
        switch node.value {
        case .table(let table):
            guard let entries = value as? [String: [String: Any]] else { return ["\(here): malformed expected table"] }
            var found: [String] = []
            if Set(table.keys) != Set(entries.keys) {
                found.append("\(here): keys \(table.keys.sorted()), tomllib \(entries.keys.sorted())")
            }
            for entry in table.entries {
                guard let expectedEntry = entries[entry.key] else { continue }
                found += differences(entry.node, expectedEntry, path: path.isEmpty ? entry.key : "\(path).\(entry.key)")
            }
            return found
        case .array(let elements):
            guard let items = value as? [[String: Any]] else { return ["\(here): malformed expected array"] }
            guard elements.count == items.count else { return ["\(here): \(elements.count) elements, tomllib \(items.count)"] }
            return zip(elements, items).enumerated().flatMap { index, pair in
                differences(pair.0, pair.1, path: "\(here)[\(index)]")
            }
        case .string(let string):
            return string == value as? String ? [] : ["\(here): \(string.debugDescription), tomllib \(value)"]
        case .integer(let integer):
            return String(integer) == value as? String ? [] : ["\(here): \(integer), tomllib \(value)"]
        case .boolean(let boolean):
            return boolean == value as? Bool ? [] : ["\(here): \(boolean), tomllib \(value)"]
        case .float(let float):
            guard let text = value as? String, let reference = Double(text) else { return ["\(here): malformed float \(value)"] }
            let same = float.isNaN ? reference.isNaN : (float == reference && float.sign == reference.sign)
            return same ? [] : ["\(here): \(float), tomllib \(text)"]
        case .dateTime(let dateTime):
            return dateTime.description == value as? String ? [] : ["\(here): \(dateTime), tomllib \(value)"]
        }
    }
}
