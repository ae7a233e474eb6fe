import Foundation
import Testing
import TesseraCore
import TesseraCrypto
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// Random bytes from a counter: ids differ and tests stay repeatable.
final class CountingRandom: RandomSource, @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var next: UInt8 = 0

    func bytes(count: Int) -> [UInt8] {
        lock.withLock {
            next &+= 1
            return [UInt8](repeating: next, count: count)
        }
    }
}

let webhookTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func notificationSettings(webhookURL: String = "https://hooks.example/a", slackURL: String = "https://hooks.slack.example/b",
                          routes: [NotificationRoute]? = nil, securitySinks: [String] = ["hook"]) -> NotificationSettings {
    let location = SourceLocation(file: "notifications.yaml")
    return NotificationSettings(
        sinks: [NotificationSink(name: "hook", kind: .webhook, url: webhookURL, secret: WebhookSecret(text: webhookTestSecret), location: location),
                NotificationSink(name: "slack", kind: .slack, url: slackURL, location: location)],
        routes: routes ?? [NotificationRoute(events: [.requestCreated], roles: ["db-admin"], sinks: ["slack"], location: location)],
        securitySinks: securitySinks)
}

func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

@Suite("notification routing and formats")
struct NotificationFormattingTests {
    @Test func theRouterWritesOneRowPerMatchingSink() throws {
        let router = NotificationRouter(settings: notificationSettings(), random: CountingRandom())
        let event = NotificationEvent(.requestCreated, role: "db-admin", data: ["request_id": "req_1", "role": "db-admin", "stage": 1])
        let rows = router.notifications(for: event, at: testNow)
        #expect(rows.map(\.sink) == ["slack"])
        let row = try #require(rows.first)
        #expect(row.event == "request.created")
        #expect(row.createdAt == testNow)
        #expect(row.dueAt == testNow)
        #expect(row.attempts == 0)
        // msg_ and 128 bits in base64url (22 characters).
        #expect(row.id.hasPrefix("msg_"))
        #expect(Base64URL.decode(String(row.id.dropFirst(4)))?.count == 16)
        #expect(try jsonObject(row.payload)["blocks"] != nil)

        // Another role: no route. Break-glass: the security sink too, with the Standard Webhooks body.
        #expect(router.notifications(for: NotificationEvent(.requestCreated, role: "other", data: [:]), at: testNow).isEmpty)
        let glass = router.notifications(for: NotificationEvent(.breakGlassUsed, role: "break-glass", data: ["actor": "alice"], breakGlass: true),
                                         at: testNow)
        #expect(glass.map(\.sink) == ["hook"])
        #expect(glass[0].payload == #"{"data":{"actor":"alice"},"timestamp":"2027-01-15T08:00:00Z","type":"break_glass.used"}"#)
    }

    @Test func idsAreRandomWithTheSecureSource() {
        let router = NotificationRouter(settings: notificationSettings(routes: [
            NotificationRoute(events: nil, sinks: ["hook", "slack"], location: SourceLocation(file: "n"))]))
        let rows = (0..<200).flatMap { _ in router.notifications(for: NotificationEvent(.activationEnded, role: "r", data: [:]), at: testNow) }
        #expect(rows.count == 400)
        #expect(Set(rows.map(\.id)).count == 400)
        #expect(rows.allSatisfy { $0.id.utf8.count == 26 })
    }

    @Test func theWebhookPayloadIsCanonical() throws {
        let data: [String: JSONValue] = ["role": "db-admin", "approvers": ["sre", "oncall:alice"], "stage": 1, "break_glass": false,
                                         "justification": "INC-1 \"quoted\"\nline"]
        let body = WebhookPayload.body(for: NotificationEvent(.requestCreated, role: "db-admin", data: data), at: testNow)
        #expect(body == #"{"data":{"approvers":["sre","oncall:alice"],"break_glass":false,"justification":"INC-1 \"quoted\"\nline","#
            + #""role":"db-admin","stage":1},"timestamp":"2027-01-15T08:00:00Z","type":"request.created"}"#)
        let object = try jsonObject(body)
        #expect(object["type"] as? String == "request.created")
    }

    /// The Standard Webhooks specification's own test vector.
    @Test func signsTheStandardWebhooksTestVector() throws {
        let signer = try StandardWebhookSigner(secret: try #require(WebhookSecret(text: webhookTestSecret)))
        let signature = try signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let headers = try signer.headers(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(headers.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
        #expect(headers.map(\.value) == ["msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", signature])
        // Any other byte, id or time gives another signature.
        #expect(try signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331, body: Array(#"{"test": 2432232314}"#.utf8))
            != signature)
        #expect(try signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232315}"#.utf8))
            != signature)
    }

    @Test func slackMessagesCarryTheFactsAndTheCommand() throws {
        let data: [String: JSONValue] = [
            "request_id": "req_42", "role": "db-admin", "requester": "corp:alice", "justification": "INC-4211 <!channel> & friends",
            "ticket": "INC-4211", "stage": 1, "stages": 2, "approvers": ["sre-leads", "corp:bob"], "expires_at": "2027-01-15T08:30:00Z",
            "request_uri": "https://tessera.example/requests/req_42?a=1&b=2",
        ]
        let body = SlackMessageBody.render(NotificationEvent(.requestCreated, role: "db-admin", data: data))
        let object = try jsonObject(body)
        let text = try #require(object["text"] as? String)
        #expect(text.contains("db-admin") && text.contains("corp:alice"))
        let blocks = try #require(object["blocks"] as? [[String: Any]])
        let all = SlackMessageBody.texts(blocks).joined(separator: "\n")
        #expect(all.contains("corp:alice"))
        #expect(all.contains("INC-4211 &lt;!channel&gt; &amp; friends"))
        #expect(!all.contains("<!channel>"))
        #expect(all.contains("1 of 2"))
        #expect(all.contains("sre-leads, corp:bob"))
        #expect(all.contains("`tessera approve req_42`"))
        #expect(all.contains("`tessera deny req_42"))
        #expect(all.contains("<!date^1800001800^{date_short_pretty} {time}|2027-01-15T08:30:00Z>"))
        #expect(all.contains("<https://tessera.example/requests/req_42?a=1&amp;b=2|Open the request>"))
    }

    @Test func slackMessagesCopeWithMissingData() throws {
        for kind in NotificationEventKind.allCases {
            let object = try jsonObject(SlackMessageBody.render(NotificationEvent(kind, role: nil, data: [:])))
            let blocks = try #require(object["blocks"] as? [[String: Any]])
            #expect(!blocks.isEmpty && blocks.count <= 50)
            #expect(!(object["text"] as? String ?? "").isEmpty)
        }
        // A supplied command wins; a link that is not http(s) stays text.
        let object = try jsonObject(SlackMessageBody.render(NotificationEvent(.requestReviewed, role: "break-glass", data: [
            "command": "tessera review act_1", "request_uri": "javascript:alert(1)", "expires_at": "not a date",
        ])))
        let all = SlackMessageBody.texts(try #require(object["blocks"] as? [[String: Any]])).joined(separator: "\n")
        #expect(all.contains("`tessera review act_1`"))
        #expect(!all.contains("<javascript"))
        #expect(all.contains("not a date"))
    }

    /// Huge, hostile text: every section within 3,000 characters, every field within 2,000,
    /// at most 50 blocks and 10 fields, escapes never cut in half.
    @Test func slackMessagesStayWithinSlackLimits() throws {
        let hostile = String(repeating: "<&>é👩‍👩‍👧", count: 2_000)
        var data: [String: JSONValue] = [:]
        for key in ["request_id", "role", "requester", "justification", "ticket", "actor", "comment", "request_uri", "command",
                    "expires_at", "ends_at", "activation_id", "stage", "stages"] {
            data[key] = .string(hostile)
        }
        data["approvers"] = .array(Array(repeating: .string(hostile), count: 100))
        let object = try jsonObject(SlackMessageBody.render(NotificationEvent(.requestEscalated, role: hostile, data: data, breakGlass: true)))
        let blocks = try #require(object["blocks"] as? [[String: Any]])
        #expect(blocks.count <= 50)
        for block in blocks {
            if let text = (block["text"] as? [String: Any])?["text"] as? String {
                #expect(text.utf16.count <= 3000)
                #expect(SlackMessageBody.escapesAreWhole(text))
            }
            if let fields = block["fields"] as? [[String: Any]] {
                #expect(fields.count <= 10)
                for field in fields {
                    let text = try #require(field["text"] as? String)
                    #expect(text.utf16.count <= 2000)
                    #expect(SlackMessageBody.escapesAreWhole(text))
                }
            }
        }
        let all = SlackMessageBody.texts(blocks).joined()
        // No raw < or > from the user text survives (links and dates are ours).
        #expect(!all.contains("<&"))
        #expect(all.contains("…"))
        #expect(try #require(object["text"] as? String).utf16.count <= 400)
    }
}

/// Reaches the Slack body through the router, as production does.
enum SlackMessageBody {
    static func render(_ event: NotificationEvent) -> String {
        let location = SourceLocation(file: "n")
        let settings = NotificationSettings(sinks: [NotificationSink(name: "s", kind: .slack, url: "https://s.example", location: location)],
                                            routes: [NotificationRoute(events: nil, sinks: ["s"], location: location)])
        return NotificationRouter(settings: settings).notifications(for: event, at: testNow)[0].payload
    }

    static func texts(_ blocks: [[String: Any]]) -> [String] {
        blocks.flatMap { block -> [String] in
            var texts: [String] = []
            if let text = (block["text"] as? [String: Any])?["text"] as? String { texts.append(text) }
            for field in block["fields"] as? [[String: Any]] ?? [] { if let text = field["text"] as? String { texts.append(text) } }
            for element in block["elements"] as? [[String: Any]] ?? [] { if let text = element["text"] as? String { texts.append(text) } }
            return texts
        }
    }

    /// Every `&` starts `&amp;`, `&lt;` or `&gt;`.
    static func escapesAreWhole(_ text: String) -> Bool {
        var rest = Substring(text)
        while let index = rest.firstIndex(of: "&") {
            let tail = rest[index...]
            guard tail.hasPrefix("&amp;") || tail.hasPrefix("&lt;") || tail.hasPrefix("&gt;") else { return false }
            rest = rest[rest.index(after: index)...]
        }
        return true
    }
}
