import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP POST of a notification.
public struct NotificationRequest: Sendable {
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(url: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// Sends notification requests; `HTTPNotificationTransport` in production, a fake in tests.
public protocol NotificationTransport: Sendable {
    func post(_ request: NotificationRequest) async -> NotificationResponse
}

/// POSTs with AsyncHTTPClient under a 15 s deadline (Standard Webhooks asks for 15 to 30 s).
/// Error texts never contain the URL: a Slack webhook URL is itself the credential.
/// The `HTTPClient` belongs to the caller, who shuts it down.
public struct HTTPNotificationTransport: NotificationTransport {
    public static let defaultTimeout: TimeAmount = .seconds(15)
    /// How much of a refusal's body is kept for the log and the outbox's `lastError`.
    static let bodyExcerptBytes = 200

    let client: HTTPClient
    let timeout: TimeAmount

    public init(client: HTTPClient, timeout: TimeAmount = HTTPNotificationTransport.defaultTimeout) {
        self.client = client
        self.timeout = timeout
    }

    /// An `HTTPClient` for notification delivery: redirects are not followed (a signed body
    /// goes to the configured URL or nowhere), connect within 5 s, read within the deadline.
    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: defaultTimeout)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func post(_ request: NotificationRequest) async -> NotificationResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = .POST
        outgoing.headers.add(name: "Content-Type", value: "application/json")
        outgoing.headers.add(name: "User-Agent", value: "Tessera")
        for header in request.headers { outgoing.headers.add(name: header.name, value: header.value) }
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        do {
            let response = try await client.execute(outgoing, timeout: timeout)
            let excerpt = await Self.excerpt(of: response.body)
            return .answered(status: Int(response.status.code), retryAfter: response.headers.first(name: "retry-after"), body: excerpt)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .unreachable("no answer within \(timeout.nanoseconds / 1_000_000_000) s")
        } catch let error as HTTPClientError where error == .connectTimeout {
            return .unreachable("could not connect in time")
        } catch {
            return .unreachable("could not deliver: \(Self.describe(error))")
        }
    }

    /// The first bytes of the body as printable text; the rest is read and dropped, so the
    /// connection can be reused (the deadline bounds a body that never ends).
    static func excerpt(of body: HTTPClientResponse.Body) async -> String {
        var kept: [UInt8] = []
        do {
            for try await chunk in body where kept.count < bodyExcerptBytes {
                kept += chunk.readableBytesView.prefix(bodyExcerptBytes - kept.count)
            }
        } catch {
            // A body cut short still leaves the status, which is what counts.
        }
        let text = String(decoding: kept, as: UTF8.self).unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? " " : String(scalar)
        }.joined()
        return AuditText.bounded(text.trimmingCharacters(in: .whitespaces), maximumBytes: bodyExcerptBytes)
    }

    /// The error's own words, cut short; NIO's connection errors name host and port, not the path.
    static func describe(_ error: any Error) -> String {
        AuditText.bounded("\(error)", maximumBytes: 300)
    }
}
