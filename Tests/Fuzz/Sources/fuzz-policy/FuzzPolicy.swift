import Foundation
import FuzzSupport
import TesseraPolicy

/// The policy bundle loader (`PolicyBundle.load(directory:)`, YAML through Yams) on fuzzed
/// files. The input is a bundle in one file: sections that each start with a line
/// `#file <name>` (a YAML comment, so a section is valid YAML as it stands), written into a
/// fresh folder as `<name>`: `clients.yaml`, `upstreams.yaml`, `networks.yaml`, `keys.yaml`,
/// `notifications.yaml`, `roles/<x>.yaml`, `schedules/<x>.yaml`, or any other plain file name
/// a bundle may refer to (a `jwks_file`). Text before the first marker is `roles/fuzz.yaml`.
///
/// Beyond not crashing: loading is deterministic (the same files load to the same bundle, or
/// fail with the same error); a loaded bundle's role, client and upstream names are unique and
/// the decision engine finds each role under its own name; deciding every role for a fixed
/// identity (with and without break-glass) names that role, and an allow never grants more
/// than the role's maximum.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let files = BundleFiles.split(fuzzInput(data, size))
    let directory = Workspace.fresh()
    for (name, contents) in files {
        let path = directory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: Data(contents)) else {
            fatalError("cannot write \(path)")
        }
    }
    let first = Result { () throws(PolicyError) in try PolicyBundle.load(directory: directory) }
    let second = Result { () throws(PolicyError) in try PolicyBundle.load(directory: directory) }
    switch (first, second) {
    case (.success(let a), .success(let b)):
        fuzzCheck(a == b, "the same files load to two different bundles")
        check(a)
    case (.failure(let a), .failure(let b)):
        fuzzCheck(a.description == b.description, "the same files fail twice differently: \(a) / \(b)")
    default:
        fuzzCheck(false, "the same files load once and fail once: \(first) / \(second)")
    }
    return 0
}

func check(_ bundle: PolicyBundle) {
    fuzzCheck(Set(bundle.roles.map { Array($0.name.utf8) }).count == bundle.roles.count, "two roles share a name")
    fuzzCheck(Set(bundle.clients.map { Array($0.id.utf8) }).count == bundle.clients.count, "two clients share an id")
    fuzzCheck(Set(bundle.upstreams.map { Array($0.id.utf8) }).count == bundle.upstreams.count, "two upstreams share an id")
    let engine = PolicyEngine(bundle: bundle)
    let now = Date(timeIntervalSince1970: 1_750_000_000)
    let identity = Identity(upstream: bundle.upstreams.first?.id ?? "dev", subject: "alice", email: "alice@example.com",
                            groups: ["payments-sre", "sre", "sre-leads"], authenticationMethods: ["mfa", "hwk"],
                            authenticatedAt: now.addingTimeInterval(-60), deviceCompliant: true)
    let context = DecisionContext(clientID: bundle.clients.first?.id ?? "cli", clientAddress: IPAddress("10.0.0.1"), now: now)
    for role in bundle.roles {
        fuzzCheck(engine.role(named: role.name) == role, "the engine does not find role \(role.name) under its name")
        for breakGlass in [false, true] {
            let request = AccessRequest(role: role.name, justification: "INC-1 fuzzing", ticket: "INC-1", breakGlass: breakGlass)
            let decision = engine.decide(identity: identity, request: request, context: context)
            fuzzCheck(decision.role == role, "deciding \(role.name) answers for \(String(describing: decision.role?.name))")
            if case .allow(let seconds) = decision.outcome {
                fuzzCheck(seconds <= role.maxDurationSeconds, "an allow of \(seconds) s exceeds the maximum of \(role.maxDurationSeconds) s")
            }
        }
    }
}

/// Splits the input into files by its `#file <name>` lines.
enum BundleFiles {
    static let marker = Array("#file ".utf8)

    static func split(_ input: [UInt8]) -> [(String, [UInt8])] {
        var files: [(String, [UInt8])] = []
        var name = "roles/fuzz.yaml"
        var contents: [UInt8] = []
        for line in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.starts(with: marker) {
                if !contents.isEmpty || name != "roles/fuzz.yaml" { files.append((name, contents)) }
                name = sanitised(String(decoding: line.dropFirst(marker.count), as: UTF8.self))
                contents = []
            } else {
                contents += line
                contents.append(UInt8(ascii: "\n"))
            }
        }
        files.append((name, contents))
        // A later section of the same name replaces an earlier one.
        var seen = Set<String>()
        return files.reversed().filter { seen.insert($0.0).inserted }.reversed()
    }

    /// A name inside the bundle folder: `roles/` and `schedules/` keep their folder, anything
    /// else becomes a plain file name of letters, digits, `.`, `-` and `_`. A plain `roles` or
    /// `schedules` would name one of the two folders themselves, which no file can replace.
    static func sanitised(_ name: String) -> String {
        var folder = ""
        var base = Substring(name.trimmingCharacters(in: .whitespaces))
        for prefix in ["roles/", "schedules/"] where base.hasPrefix(prefix) {
            folder = prefix
            base = base.dropFirst(prefix.count)
        }
        let allowed = base.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }
        var plain = String(String.UnicodeScalarView(allowed.prefix(64)))
        if plain.isEmpty || plain.hasPrefix(".") || (folder.isEmpty && Workspace.folders.contains(plain)) { plain = "x" + plain }
        return folder + plain
    }
}

/// The folder the fuzzed bundle is written to, emptied before each input; removed at exit.
enum Workspace {
    nonisolated(unsafe) static var root: String?
    static let folders = ["roles", "schedules"]

    static func fresh() -> String {
        let root = Self.root ?? create()
        let directory = root + "/policies"
        try? FileManager.default.removeItem(atPath: directory)
        for folder in [""] + folders.map({ "/" + $0 }) {
            try! FileManager.default.createDirectory(atPath: directory + folder, withIntermediateDirectories: true)
        }
        return directory
    }

    private static func create() -> String {
        var template = Array((NSTemporaryDirectory() + "/tessera-fuzz-policy-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        let path = String(cString: created)
        root = path
        atexit { if let root = Workspace.root { try? FileManager.default.removeItem(atPath: root) } }
        return path
    }
}
