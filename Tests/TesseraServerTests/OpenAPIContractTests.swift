import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TesseraCore
import TesseraServer
import TesseraStore

/// The HTTP contract: `GET /openapi.json` is a valid OpenAPI 3.1 document (checked by the PyPI
/// package openapi-spec-validator), and it names exactly the routes the router answers: every
/// (method, path) the router has, except those that only answer 405, and nothing else.
@Suite("OpenAPI contract")
struct OpenAPIContractTests {
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch]

    /// `(METHOD, /path/{param})` of every operation of the document.
    static func documented(_ document: [String: Any]) -> Set<String> {
        let paths = document["paths"] as? [String: [String: Any]] ?? [:]
        return Set(paths.flatMap { path, operations in
            operations.keys.filter { Self.methods.map { $0.rawValue.lowercased() }.contains($0) }.map { "\($0.uppercased()) \(path)" }
        })
    }

    @Test func theDocumentNamesExactlyTheRoutesTheRouterAnswers() async throws {
        let fixture = try ServerFixture()
        let storage = try await Issuer.openStorage(fixture.settings.issuer)
        let issuer = try await Issuer.load(fixture.settings.issuer, storage: storage, logger: .forCurrentTest())
        let router = buildRouter(for: issuer)
        let registered = router.routes.map { (method: $0.method, path: "\($0.path)") }
        let app = Application(router: router)
        let (answered, servedBytes) = try await app.test(.router) { client -> (Set<String>, Data) in
            var answered: Set<String> = []
            for route in registered {
                // A parameter (`:id`) stands for any value; the document writes it `{id}`.
                // Router paths print without their leading slash.
                let uri = "/" + route.path.split(separator: "/").map { $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/")
                let response = try await client.execute(uri: uri, method: route.method)
                guard response.status != .methodNotAllowed else { continue }
                let templated = "/" + route.path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                    .joined(separator: "/")
                answered.insert("\(route.method.rawValue) \(templated)")
            }
            let served = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(served.status == .ok)
            #expect(served.headers[.contentType] == "application/json")
            return (answered, Data(served.body.readableBytesView))
        }
        let document = try #require(try JSONSerialization.jsonObject(with: servedBytes) as? [String: Any])
        await issuer.shutdown()
        try await storage.close()
        #expect(document["openapi"] as? String == "3.1.0")
        let named = Self.documented(document)
        #expect(answered.subtracting(named).sorted() == [], "routes the document does not name")
        #expect(named.subtracting(answered).sorted() == [], "operations of the document the router does not answer")
        #expect(answered.count > 25, "\(answered.sorted())")

        // An independent validator of the OpenAPI 3.1 schema.
        guard let python = which("python3") else {
            peerMissing("python3 with openapi-spec-validator (pip install openapi-spec-validator)")
            return
        }
        let file = NSTemporaryDirectory() + "tessera-openapi-\(UUID()).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: file))
        let check = try await run(python, ["-c", """
            import json, sys
            try:
                from openapi_spec_validator import validate
            except ImportError:
                sys.exit(3)
            validate(json.load(open(sys.argv[1])))
            """, file])
        if check.status == 3 {
            peerMissing("the Python package openapi-spec-validator (pip install openapi-spec-validator)")
            return
        }
        #expect(check.status == 0, "openapi-spec-validator refused the document: \(check.error)")
    }
}
