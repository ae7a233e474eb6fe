import Foundation

extension ShiftTimeline {
    /// The timeline with `overrides` on top: over each override's interval its person is the
    /// only one on call, whoever the layers or the feed had (a feed may have had several);
    /// among overlapping overrides the one listed last wins, as in a native schedule. This is
    /// how overrides added at run time apply to every kind of schedule alike.
    public func overridden(by overrides: [Override]) -> ShiftTimeline {
        guard !overrides.isEmpty else { return self }
        let low = window.lowerBound.timeIntervalSince1970
        let high = window.upperBound.timeIntervalSince1970
        let claims = overrides.enumerated().compactMap { index, override -> Piece? in
            let start = max(override.start.timeIntervalSince1970, low)
            let end = min(override.end.timeIntervalSince1970, high)
            return start < end ? Piece(priority: index, person: override.person, start: start, end: end) : nil
        }
        // Overridden time, merged: what every underlying shift loses.
        var covered: [(start: Double, end: Double)] = []
        for claim in claims.sorted(by: { $0.start < $1.start }) {
            if let last = covered.last, claim.start <= last.end {
                covered[covered.count - 1].end = max(last.end, claim.end)
            } else {
                covered.append((claim.start, claim.end))
            }
        }
        var result: [Shift] = []
        for shift in shifts {
            var start = shift.start.timeIntervalSince1970
            let end = shift.end.timeIntervalSince1970
            for gap in covered where gap.end > start && gap.start < end {
                if gap.start > start { result.append(Shift(person: shift.person, start: Date(timeIntervalSince1970: start), end: Date(timeIntervalSince1970: gap.start))) }
                start = max(start, gap.end)
            }
            if start < end { result.append(Shift(person: shift.person, start: Date(timeIntervalSince1970: start), end: shift.end)) }
        }
        for piece in stack(claims) {
            result.append(Shift(person: piece.person, start: Date(timeIntervalSince1970: piece.start), end: Date(timeIntervalSince1970: piece.end)))
        }
        return ShiftTimeline(shifts: result, window: window)
    }
}
