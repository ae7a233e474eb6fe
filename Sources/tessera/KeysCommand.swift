import ArgumentParser
import Foundation
import TesseraCore
import TesseraCrypto

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage signing keys in the keys folder.", subcommands: [Generate.self, List.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a signing key. The first key signs (current); later ones are published as next.")

        @Option(help: "ES256 (default), EdDSA, RS256 or PS256.")
        var alg: String = "ES256"

        @Option(name: .customLong("rsa-bits"), help: "RSA key size for RS256/PS256: 2048 (default), 3072 or 4096.")
        var rsaBits: Int = 2048

        @OptionGroup var folders: FolderOptions

        func run() throws {
            guard let algorithm = SignatureAlgorithm(jwsName: alg) else {
                fail("unknown --alg \(alg); use ES256, EdDSA, RS256 or PS256")
            }
            do {
                let key = try KeyDirectory(path: folders.keys).generate(algorithm: algorithm, rsaBits: rsaBits, now: Date())
                print("generated \(key.entry.alg) key \(key.entry.kid) (\(key.entry.state.rawValue)) in \(folders.keys)/\(key.entry.file)")
            } catch {
                fail(error.description)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List signing keys: kid, algorithm, state, creation time.")

        @OptionGroup var folders: FolderOptions

        func run() throws {
            let keys: [StoredSigningKey]
            do {
                keys = try KeyDirectory(path: folders.keys).load()
            } catch {
                fail(error.description)
            }
            guard !keys.isEmpty else {
                print("no keys in \(folders.keys); `tessera serve` or `tessera keys generate` creates one")
                return
            }
            let rows = keys.map { [$0.entry.kid, $0.entry.alg.jwsName, $0.entry.state.rawValue, $0.entry.created.formatted(.iso8601)] }
            printTable(header: ["KID", "ALG", "STATE", "CREATED"], rows: rows)
        }
    }
}

func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}
