import Foundation

/// A native on-call schedule: layers stacked in order, overrides on top, in one IANA zone.
///
/// Where several layers have someone, the layer listed last wins; where it is in a gap
/// (restricted, not started, ended) the layers below show through; overrides win over every
/// layer, and among overlapping overrides the one listed last wins. Nobody may be on call at
/// some times. All intervals are half-open: whoever's turn starts at an instant is on call at
/// that instant, and the previous person no longer is.
public struct Schedule: Sendable, Hashable {
    public let id: String
    public let timeZone: TimeZone
    public let layers: [Layer]
    public let overrides: [Override]

    public init(id: String, timeZone: TimeZone, layers: [Layer], overrides: [Override] = []) throws(ScheduleError) {
        for override in overrides where override.end <= override.start {
            throw ScheduleError("schedule \(id): the override for \(override.person) ends (\(override.end.ISO8601Format())) before it starts (\(override.start.ISO8601Format()))")
        }
        self.id = id
        self.timeZone = timeZone
        self.layers = layers
        self.overrides = overrides
    }

    /// The final schedule over `window`: non-overlapping shifts, sorted, with consecutive shifts
    /// of the same person merged.
    public func shifts(in window: Range<Date>) -> [Shift] {
        let low = Int(window.lowerBound.timeIntervalSince1970.rounded(.down))
        let high = Int(window.upperBound.timeIntervalSince1970.rounded(.up))
        let zone = WallClockZone.system(timeZone)
        var pieces: [Piece] = []
        for (index, layer) in layers.enumerated() {
            for turn in layer.shifts(from: low, to: high, in: zone) {
                pieces.append(Piece(priority: index, person: layer.participants[turn.participant],
                                    start: Double(turn.start), end: Double(turn.end)))
            }
        }
        let lowValue = window.lowerBound.timeIntervalSince1970
        let highValue = window.upperBound.timeIntervalSince1970
        for (index, override) in overrides.enumerated() {
            let start = max(override.start.timeIntervalSince1970, lowValue)
            let end = min(override.end.timeIntervalSince1970, highValue)
            if start < end { pieces.append(Piece(priority: layers.count + index, person: override.person, start: start, end: end)) }
        }
        return stack(pieces).compactMap { piece in
            let start = max(piece.start, lowValue)
            let end = min(piece.end, highValue)
            return start < end ? Shift(person: piece.person, start: Date(timeIntervalSince1970: start), end: Date(timeIntervalSince1970: end)) : nil
        }
    }

    /// The schedule resolved over `window`, ready for lookups.
    public func timeline(over window: Range<Date>) -> ShiftTimeline {
        ShiftTimeline(shifts: shifts(in: window), window: window)
    }
}

/// One layer's (or override's) claim on an interval; a higher priority wins.
struct Piece {
    let priority: Int
    let person: String
    let start: Double
    let end: Double
}

/// Resolves overlapping claims into non-overlapping pieces: over each interval between two
/// boundaries the claim of highest priority wins. Consecutive pieces of the same person merge.
func stack(_ pieces: [Piece]) -> [Piece] {
    let byStart = pieces.sorted { $0.start < $1.start }
    var boundaries = Array(Set(pieces.flatMap { [$0.start, $0.end] }))
    boundaries.sort()
    var result: [Piece] = []
    var active: [Piece] = []
    var next = 0
    for (i, boundary) in boundaries.enumerated().dropLast() {
        while next < byStart.count, byStart[next].start <= boundary {
            active.append(byStart[next])
            next += 1
        }
        active.removeAll { $0.end <= boundary }
        guard let winner = active.max(by: { $0.priority < $1.priority }) else { continue }
        let end = boundaries[i + 1]
        if let last = result.last, last.person == winner.person, last.end == boundary {
            result[result.count - 1] = Piece(priority: last.priority, person: last.person, start: last.start, end: end)
        } else {
            result.append(Piece(priority: winner.priority, person: winner.person, start: boundary, end: end))
        }
    }
    return result
}
