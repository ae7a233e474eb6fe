import Foundation
import Testing
@testable import TesseraCore
import TesseraCrypto

/// Token identifiers: URL-safe, unique, and ordered by the time they were made, so the store's
/// jti index takes each group's keys side by side.
@Suite("Token identifiers")
struct TokenIdentifierTests {
    @Test func identifiersSortByTimeAsPlainStrings() {
        let start = Date(timeIntervalSince1970: 1_796_000_000.123)
        var previous = ""
        // Milliseconds apart, seconds apart and years apart, each with the largest and smallest random part.
        for offset: TimeInterval in [0, 0.001, 0.002, 0.063, 0.064, 1, 4.096, 262.144, 86_400, 946_080_000] {
            for random in [[UInt8](repeating: 0, count: 10), [UInt8](repeating: 0xFF, count: 10)] {
                let identifier = TokenIdentifier.make(time: start.addingTimeInterval(offset), random: random)
                #expect(identifier.count == 22)
                #expect(identifier > previous, "\(identifier) after \(previous) at +\(offset) s")
                previous = identifier
            }
        }
    }

    @Test func identifiersAreURLSafeAndDistinct() {
        let random = SecureRandom()
        let now = Date()
        let identifiers = (0..<10_000).map { _ in TokenIdentifier.make(time: now, random: random.bytes(count: TokenIdentifier.randomByteCount)) }
        #expect(Set(identifiers).count == identifiers.count)
        let allowed = Set("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
        #expect(identifiers.allSatisfy { $0.allSatisfy(allowed.contains) })
    }
}
