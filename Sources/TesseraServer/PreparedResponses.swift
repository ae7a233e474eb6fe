import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization
import TesseraCore

/// The well-known documents' `200 OK` responses (head and body), rebuilt when a document
/// changes (a key rotation) or the `Date` header's second does.
final class PreparedResponses: Sendable {
    private struct Prepared {
        let second: Int
        let body: [UInt8]
        let response: FastResponse
    }

    private let documents: WellKnownDocuments
    private let prepared = Mutex<[WellKnownDocuments.Document: Prepared]>([:])

    init(documents: WellKnownDocuments) {
        self.documents = documents
    }

    /// The `200 OK` response for `document`: the prepared one while the document and the
    /// second are the same, else prepared anew.
    func response(_ document: WellKnownDocuments.Document) -> FastResponse? {
        let body = documents.body(document)
        let second = Int(Date().timeIntervalSince1970)
        // Comparing the arrays is a pointer comparison while the document is the one prepared.
        if let cached = prepared.withLock({ $0[document] }), cached.second == second, cached.body == body { return cached.response }
        let answer = documents.answer(document, ifNoneMatch: nil)
        guard let answerBody = answer.body else { return nil }
        let response = FastResponse(status: answer.status, fields: answer.headers, body: answerBody, second: second)
        prepared.withLock { $0[document] = Prepared(second: second, body: answerBody, response: response) }
        return response
    }
}

/// A response of the fast path: its head (status line and fields, with `Content-Length`, `Date`
/// and `Server` as Hummingbird adds them to the router's) and its body. Written through the
/// HTTP/1 encoder, which pairs each response with its request's method (a `HEAD` answered
/// after it gets no body), so it must see every response of the connection.
struct FastResponse: Sendable {
    let head: HTTPResponseHead
    let body: ByteBuffer

    init(status: HTTPResponse.Status, fields: HTTPFields, body: [UInt8], second: Int = Int(Date().timeIntervalSince1970)) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 3)
        for field in fields { headers.add(name: field.name.rawName, value: field.value) }
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Date", value: HTTPDate.field(second))
        headers.add(name: "Server", value: "tessera")
        self.head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status.code, reasonPhrase: status.reasonPhrase),
                                     headers: headers)
        self.body = ByteBuffer(bytes: body)
    }
}

/// The `Date` header's IMF-fixdate (RFC 9110 §5.6.7).
enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The field for `second`, formatted once per second (token responses ask for it each time).
    static func field(_ second: Int) -> String {
        if let cached = latest.withLock({ $0 }), cached.second == second { return cached.text }
        let text = format(second)
        latest.withLock { $0 = (second, text) }
        return text
    }

    private static let latest = Mutex<(second: Int, text: String)?>(nil)

    static func format(_ second: Int) -> String {
        var time = time_t(second)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
