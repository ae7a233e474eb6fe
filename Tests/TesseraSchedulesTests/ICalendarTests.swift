import Foundation
import Testing
import TesseraSchedules

/// PagerDuty's own feed, as published (public test data; REFERENCE.md).
let pagerDutySample = """
BEGIN:VCALENDAR
PRODID;X-RICAL-TZSOURCE=TZINFO:-//com.denhaven2/NONSGML ri_cal gem//EN
CALSCALE:GREGORIAN
VERSION:2.0
X-WR-CALNAME:On Call Schedule
BEGIN:VEVENT
DTEND;VALUE=DATE-TIME:20170123T080000Z
DTSTART;VALUE=DATE-TIME:20170122T220000Z
ATTENDEE:oyanglulu@gmail.com
UID:Q3DNWZL0W9JV04
URL:https://blog.oyanglul.us/schedules#PFWMMZA
SUMMARY:On Call - Jichao Ouyang - Lego Master
END:VEVENT
END:VCALENDAR

"""

let window2017 = at("2017-01-01T00:00:00Z")..<at("2017-02-01T00:00:00Z")

@Suite("iCalendar feeds")
struct ICalendarTests {
    // MARK: PagerDuty's shape

    @Test func readsPagerDutysFeedByAttendee() throws {
        let parsed = try feed(pagerDutySample)
        #expect(parsed.name == "On Call Schedule")
        #expect(parsed.eventCount == 1)
        let t = try parsed.timeline(over: window2017)
        #expect(t.onCall(at: at("2017-01-22T22:00:00Z")) == [
            Shift(person: "oyanglulu@gmail.com", start: at("2017-01-22T22:00:00Z"), end: at("2017-01-23T08:00:00Z")),
        ])
        #expect(t.onCall(at: at("2017-01-23T08:00:00Z")).isEmpty)
        #expect(t.isOnCall("OYANGLULU@gmail.com", at: at("2017-01-23T07:59:59Z")))
    }

    @Test func readsPagerDutysFeedBySummaryPattern() throws {
        let options = ICalendarOptions(people: [.summary(.pagerDuty)])
        let t = try feed(pagerDutySample, crlf: false, options: options).timeline(over: window2017)
        #expect(t.people("2017-01-23T00:00:00Z") == ["Jichao Ouyang"])
    }

    @Test func summaryPatternNeedsExactlyOneCapture() {
        #expect(throws: ScheduleError.self) { try SummaryPattern("On Call - .+") }
        #expect(throws: ScheduleError.self) { try SummaryPattern("(a)(b)") }
        #expect(throws: ScheduleError.self) { try SummaryPattern("(unclosed") }
    }

    // MARK: lines, parameters, text

    @Test func unfoldsLinesWithCRLFOrLFAndSpaceOrTab() throws {
        // The attendee is folded twice, once inside a multi-byte character (é is C3 A9).
        let bytes: [UInt8] = Array("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T170000Z\r\nATTENDEE:mailto:ren".utf8)
            + [0xC3, 0x0D, 0x0A, 0x20, 0xA9] + Array("@exam\n\tple.com\r\nEND:VEVENT\nEND:VCALENDAR\n".utf8)
        let t = try ICalendarFeed(parsing: bytes).timeline(over: year2026)
        #expect(t.people("2026-03-02T12:00:00Z") == ["rené@example.com"])
    }

    @Test func readsQuotedParametersAndEscapedText() throws {
        let text = calendar("""
        BEGIN:VEVENT
        UID:1
        DTSTART;TZID="Europe/Berlin":20260302T090000
        DTEND;TZID="Europe/Berlin":20260302T170000
        ATTENDEE;CN="Doe, Jane: SRE; EU";ROLE=REQ-PARTICIPANT:MAILTO:Jane.Doe@Example.com
        SUMMARY:Primary\\, EU: Jane Doe\\; backup\\nnone
        END:VEVENT

        """)
        let byAttendee = try feed(text).timeline(over: year2026)
        #expect(byAttendee.people("2026-03-02T08:00:00Z") == ["Jane.Doe@Example.com"])
        #expect(byAttendee.isOnCall("jane.doe@example.com", at: at("2026-03-02T15:59:59Z")))
        #expect(!byAttendee.isOnCall("jane.doe@example.com", at: at("2026-03-02T16:00:00Z")))
        let options = ICalendarOptions(people: [.summary(try SummaryPattern("^Primary, EU: ([^;]+);"))])
        #expect(try feed(text, options: options).timeline(over: year2026).people("2026-03-02T08:00:00Z") == ["Jane Doe"])
    }

    @Test func triesPeopleSourcesInOrderAndCountsEventsNamingNobody() throws {
        let text = calendar("""
        BEGIN:VEVENT
        UID:1
        DTSTART:20260302T090000Z
        DTEND:20260302T170000Z
        SUMMARY:On Call - Ann Lee - Payments
        END:VEVENT
        BEGIN:VEVENT
        UID:2
        DTSTART:20260302T090000Z
        DTEND:20260302T170000Z
        ATTENDEE:bob@example.com
        ATTENDEE:mailto:cem@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:3
        DTSTART:20260302T090000Z
        DTEND:20260302T170000Z
        SUMMARY:Team lunch
        END:VEVENT

        """)
        let parsed = try feed(text, options: ICalendarOptions(people: [.attendee, .summary(.pagerDuty)]))
        #expect(parsed.eventsNamingNobody == [17])
        #expect(try parsed.timeline(over: year2026).people("2026-03-02T10:00:00Z") == ["Ann Lee", "bob@example.com", "cem@example.com"])
    }

    // MARK: times and zones

    @Test func weeklyRuleWithTZIDKeepsTheLocalTimeAcrossDaylightSavingTime() throws {
        let t = try feed(calendar("""
        BEGIN:VEVENT
        UID:w
        DTSTART;TZID=Europe/Berlin:20260302T090000
        DTEND;TZID=Europe/Berlin:20260309T090000
        RRULE:FREQ=WEEKLY;INTERVAL=2
        ATTENDEE:ann@example.com
        END:VEVENT

        """)).timeline(over: year2026)
        #expect(t.people("2026-03-09T08:59:59+01:00") == ["ann@example.com"])
        #expect(t.people("2026-03-09T09:00:00+01:00") == [])
        #expect(t.people("2026-03-30T09:00:00+02:00") == ["ann@example.com"])
        #expect(t.onCall(at: at("2026-03-30T09:00:00+02:00")).first?.end == at("2026-04-06T09:00:00+02:00"))
        #expect(t.people("2026-10-26T09:00:00+01:00") == ["ann@example.com"])
    }

    @Test func vtimezoneDefinesZonesThatAreNotIANANames() throws {
        let zone = """
        BEGIN:VTIMEZONE
        TZID:W. Europe Standard Time
        BEGIN:STANDARD
        DTSTART:16010101T030000
        TZOFFSETFROM:+0200
        TZOFFSETTO:+0100
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
        END:STANDARD
        BEGIN:DAYLIGHT
        DTSTART:16010101T020000
        TZOFFSETFROM:+0100
        TZOFFSETTO:+0200
        RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
        END:DAYLIGHT
        END:VTIMEZONE

        """
        let event = """
        BEGIN:VEVENT
        UID:d
        DTSTART;TZID=W. Europe Standard Time:20260302T023000
        DTEND;TZID=W. Europe Standard Time:20260302T120000
        RRULE:FREQ=DAILY
        ATTENDEE:ann@example.com
        END:VEVENT

        """
        let custom = try feed(calendar(zone + event)).shifts(in: year2026)
        let iana = try feed(calendar(event.replacingOccurrences(of: "W. Europe Standard Time", with: "Europe/Berlin"))).shifts(in: year2026)
        #expect(custom.count > 300)
        #expect(custom == iana)
        // On the night of the change the nonexistent 02:30 is 03:30 summer time.
        #expect(custom.contains { $0.start == at("2026-03-29T03:30:00+02:00") })
        #expect(custom.contains { $0.start == at("2026-10-25T02:30:00+02:00") })
    }

    @Test func floatingTimesAndAllDayEventsUseTheCalendarZone() throws {
        let body = """
        BEGIN:VEVENT
        UID:f
        DTSTART:20260302T090000
        DTEND:20260302T170000
        ATTENDEE:ann@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:a
        DTSTART;VALUE=DATE:20260303
        ATTENDEE:bob@example.com
        END:VEVENT

        """
        let inNewYork = try feed(calendar(body, header: "X-WR-TIMEZONE:America/New_York\n")).timeline(over: year2026)
        #expect(inNewYork.people("2026-03-02T09:00:00-05:00") == ["ann@example.com"])
        #expect(inNewYork.people("2026-03-03T00:00:00-05:00") == ["bob@example.com"])
        #expect(inNewYork.people("2026-03-03T23:59:59-05:00") == ["bob@example.com"])
        #expect(inNewYork.people("2026-03-04T00:00:00-05:00") == [])
        // No X-WR-TIMEZONE: the configured default.
        let inBerlin = try feed(calendar(body), options: ICalendarOptions(defaultTimeZone: berlin)).timeline(over: year2026)
        #expect(inBerlin.people("2026-03-02T09:00:00+01:00") == ["ann@example.com"])
        #expect(inBerlin.people("2026-03-03T00:00:00+01:00") == ["bob@example.com"])
    }

    @Test func missingAndRepeatedLocalTimesFollowRFC5545() throws {
        // The oracle test leaves the hour after each change out (Python compares wall-clock
        // readings there); these are Tessera's answers, the RFC's section 3.3.5 examples.
        let t = try feed(calendar("""
        BEGIN:VEVENT
        UID:ny
        DTSTART;TZID=America/New_York:20260307T023000
        DTEND;TZID=America/New_York:20260308T023000
        RRULE:FREQ=DAILY;INTERVAL=2;COUNT=3
        ATTENDEE:ann@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:ny2
        DTSTART;TZID=America/New_York:20260308T023000
        DTEND;TZID=America/New_York:20260309T023000
        RRULE:FREQ=DAILY;INTERVAL=2;COUNT=3
        ATTENDEE:bob@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:fall
        DTSTART;TZID=America/New_York:20261031T013000
        DTEND;TZID=America/New_York:20261101T013000
        ATTENDEE:cem@example.com
        END:VEVENT

        """)).timeline(over: year2026)
        // 02:30 on 8 March does not exist: the hand-off is at 03:30 EDT (07:30 UTC).
        #expect(t.people("2026-03-08T07:00:00Z") == ["ann@example.com"])
        #expect(t.people("2026-03-08T07:29:59Z") == ["ann@example.com"])
        #expect(t.people("2026-03-08T07:30:00Z") == ["bob@example.com"])
        // 01:30 on 1 November happens twice: the shift ends at the first, 01:30 EDT.
        #expect(t.shift(of: "cem@example.com", at: at("2026-10-31T12:00:00-04:00"))?.end == at("2026-11-01T01:30:00-04:00"))
        #expect(t.people("2026-11-01T01:15:00-05:00") == [])
    }

    @Test func durationDaysAreWallClockAndHoursAreElapsed() throws {
        let t = try feed(calendar("""
        BEGIN:VEVENT
        UID:days
        DTSTART;TZID=Europe/Berlin:20260328T090000
        DURATION:P1D
        ATTENDEE:days@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:hours
        DTSTART;TZID=Europe/Berlin:20260328T090000
        DURATION:PT24H
        ATTENDEE:hours@example.com
        END:VEVENT

        """)).timeline(over: year2026)
        #expect(t.shift(of: "days@example.com", at: at("2026-03-28T12:00:00+01:00"))?.end == at("2026-03-29T09:00:00+02:00"))
        #expect(t.shift(of: "hours@example.com", at: at("2026-03-28T12:00:00+01:00"))?.end == at("2026-03-29T10:00:00+02:00"))
    }

    // MARK: recurrence rules

    func starts(_ rule: String, from dtstart: String = "19970805T090000", zone: String = "America/New_York", extra: String = "") throws -> [String] {
        let text = calendar("""
        BEGIN:VEVENT
        UID:r
        DTSTART;TZID=\(zone):\(dtstart)
        DURATION:PT1H
        RRULE:\(rule)
        \(extra)ATTENDEE:x@example.com
        END:VEVENT

        """)
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: zone)
        return try feed(text).shifts(in: at("1997-01-01T00:00:00Z")..<at("1999-01-01T00:00:00Z")).map { formatter.string(from: $0.start) }
    }

    @Test func weekStartChangesWhichDaysAnIntervalSelects() throws {
        // RFC 5545 section 3.8.5.3's own example.
        #expect(try starts("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO")
            == ["1997-08-05 09:00", "1997-08-10 09:00", "1997-08-19 09:00", "1997-08-24 09:00"])
        #expect(try starts("FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU")
            == ["1997-08-05 09:00", "1997-08-17 09:00", "1997-08-19 09:00", "1997-08-31 09:00"])
    }

    @Test func dailyRuleWithIntervalUntilAndByDay() throws {
        #expect(try starts("FREQ=DAILY;INTERVAL=10;COUNT=3") == ["1997-08-05 09:00", "1997-08-15 09:00", "1997-08-25 09:00"])
        // UNTIL is inclusive; 13:00Z is 09:00 EDT.
        #expect(try starts("FREQ=DAILY;UNTIL=19970807T130000Z") == ["1997-08-05 09:00", "1997-08-06 09:00", "1997-08-07 09:00"])
        #expect(try starts("FREQ=DAILY;BYDAY=MO,FR;COUNT=3") == ["1997-08-05 09:00", "1997-08-08 09:00", "1997-08-11 09:00"])
    }

    @Test func monthlyRulesByOrdinalWeekdayAndMonthDay() throws {
        #expect(try starts("FREQ=MONTHLY;COUNT=3;BYDAY=1MO", from: "19970901T090000")
            == ["1997-09-01 09:00", "1997-10-06 09:00", "1997-11-03 09:00"])
        #expect(try starts("FREQ=MONTHLY;COUNT=3;BYDAY=-1FR", from: "19970926T090000")
            == ["1997-09-26 09:00", "1997-10-31 09:00", "1997-11-28 09:00"])
        #expect(try starts("FREQ=MONTHLY;COUNT=4;BYMONTHDAY=15,-1", from: "19970930T090000")
            == ["1997-09-30 09:00", "1997-10-15 09:00", "1997-10-31 09:00", "1997-11-15 09:00"])
        // Friday the 13th.
        #expect(try starts("FREQ=MONTHLY;COUNT=3;BYDAY=FR;BYMONTHDAY=13", from: "19980213T090000")
            == ["1998-02-13 09:00", "1998-03-13 09:00", "1998-11-13 09:00"])
        // The 31st, skipping months without one.
        #expect(try starts("FREQ=MONTHLY;INTERVAL=1;COUNT=3", from: "19970131T090000")
            == ["1997-01-31 09:00", "1997-03-31 09:00", "1997-05-31 09:00"])
    }

    @Test func dtstartIsTheFirstInstanceAndCountsTowardsCount() throws {
        #expect(try starts("FREQ=WEEKLY;BYDAY=TH;COUNT=2") == ["1997-08-05 09:00", "1997-08-07 09:00"])
    }

    @Test func exdatesInSeveralPropertiesAndCommaLists() throws {
        let extra = "EXDATE;TZID=America/New_York:19970806T090000,19970808T090000\nEXDATE:19970810T130000Z\n"
        #expect(try starts("FREQ=DAILY;COUNT=7", extra: extra)
            == ["1997-08-05 09:00", "1997-08-07 09:00", "1997-08-09 09:00", "1997-08-11 09:00"])
    }

    @Test func recurrenceIDOverridesMoveReassignOrCancelOneInstance() throws {
        let t = try feed(calendar("""
        BEGIN:VEVENT
        UID:series
        DTSTART;TZID=Europe/Berlin:20260302T090000
        DTEND;TZID=Europe/Berlin:20260303T090000
        RRULE:FREQ=DAILY;COUNT=5
        ATTENDEE:ann@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:series
        RECURRENCE-ID;TZID=Europe/Berlin:20260303T090000
        DTSTART;TZID=Europe/Berlin:20260303T090000
        DTEND;TZID=Europe/Berlin:20260304T090000
        ATTENDEE:bob@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:series
        RECURRENCE-ID:20260304T080000Z
        DTSTART;TZID=Europe/Berlin:20260304T120000
        DTEND;TZID=Europe/Berlin:20260305T090000
        ATTENDEE:ann@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:series
        RECURRENCE-ID;TZID=Europe/Berlin:20260305T090000
        DTSTART;TZID=Europe/Berlin:20260305T090000
        DTEND;TZID=Europe/Berlin:20260306T090000
        STATUS:CANCELLED
        ATTENDEE:ann@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:gone
        DTSTART:20260302T000000Z
        DTEND:20260310T000000Z
        STATUS:CANCELLED
        ATTENDEE:eve@example.com
        END:VEVENT

        """)).timeline(over: year2026)
        #expect(t.people("2026-03-02T12:00:00+01:00") == ["ann@example.com"])
        #expect(t.people("2026-03-03T12:00:00+01:00") == ["bob@example.com"])
        #expect(t.people("2026-03-04T10:00:00+01:00") == [])
        #expect(t.people("2026-03-04T12:00:00+01:00") == ["ann@example.com"])
        #expect(t.people("2026-03-05T12:00:00+01:00") == [])
        #expect(t.people("2026-03-06T12:00:00+01:00") == ["ann@example.com"])
        #expect(t.people("2026-03-07T12:00:00+01:00") == [])
    }

    @Test func overlappingEventsPutSeveralPeopleOnCallAndMergePerPerson() throws {
        let t = try feed(calendar("""
        BEGIN:VEVENT
        UID:1
        DTSTART:20260302T080000Z
        DTEND:20260302T120000Z
        ATTENDEE:ann@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:2
        DTSTART:20260302T100000Z
        DTEND:20260302T140000Z
        ATTENDEE:bob@example.com
        END:VEVENT
        BEGIN:VEVENT
        UID:3
        DTSTART:20260302T120000Z
        DTEND:20260302T160000Z
        ATTENDEE:ANN@example.com
        END:VEVENT

        """)).timeline(over: year2026)
        let now = t.onCall(at: at("2026-03-02T11:00:00Z"))
        #expect(now.map(\.person) == ["ann@example.com", "bob@example.com"])
        #expect(now.first?.end == at("2026-03-02T16:00:00Z"))
        #expect(t.people("2026-03-02T15:00:00Z") == ["ann@example.com"])
    }

    // MARK: refusals

    @Test func badFoldingIsRefusedWithItsLine() throws {
        // A long SUMMARY wrapped without the leading space of a fold.
        let error = try #require(refusal(calendar("""
        BEGIN:VEVENT
        DTSTART:20260302T090000Z
        SUMMARY:On Call - Ann Lee - Payments primary rotation for the
        whole of the first quarter
        END:VEVENT

        """)))
        #expect(error.code == .malformed)
        #expect(error.line == 7)
        #expect(error.description.contains("folded without a leading space"))
        let first = try #require(refusal(" BEGIN:VCALENDAR\n"))
        #expect(first.line == 1)
        #expect(first.description.contains("not an iCalendar feed"))
    }

    @Test func brokenNestingIsRefused() throws {
        #expect(refusal("BEGIN:VCALENDAR\nEND:VEVENT\nEND:VCALENDAR\n")?.description == "line 2: END:VEVENT does not close BEGIN:VCALENDAR of line 1")
        #expect(refusal("END:VEVENT\n")?.description == "line 1: END:VEVENT without a matching BEGIN")
        #expect(refusal("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260302T090000Z\n")?.description
            == "line 2: BEGIN:VEVENT is never closed (the feed ends first; was it cut short?)")
        #expect(refusal(calendar("BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n"))?.description == "line 4: VEVENT has no DTSTART")
        #expect(refusal(calendar("BEGIN:VEVENT\nDTSTART:2026-03-02\nEND:VEVENT\n"))?.code == .malformed)
        #expect(refusal(calendar("BEGIN:VEVENT\nDTSTART:20260302T090000Z\nDTEND:20260302T080000Z\nEND:VEVENT\n"))?.description
            == "line 6: DTEND is before DTSTART")
        #expect(throws: ICalendarError(.malformed, line: 2, "the line is not valid UTF-8")) {
            try ICalendarFeed(parsing: Array("BEGIN:VCALENDAR\nSUMMARY:".utf8) + [0xFF, 0x0A])
        }
    }

    @Test func unknownTimeZoneIsRefused() throws {
        let error = try #require(refusal(calendar("BEGIN:VEVENT\nDTSTART;TZID=Mars/Olympus_Mons:20260302T090000\nEND:VEVENT\n")))
        #expect(error.code == .unknownTimeZone)
        #expect(error.description == "line 5: TZID \"Mars/Olympus_Mons\" is neither an IANA time zone name nor defined by a VTIMEZONE in the feed")
        #expect(refusal(calendar("", header: "X-WR-TIMEZONE:Nowhere/Land\n"))?.code == .unknownTimeZone)
    }

    @Test func unsupportedRulesAreRefused() throws {
        func rule(_ text: String) -> ICalendarError? {
            refusal(calendar("BEGIN:VEVENT\nDTSTART:20260302T090000Z\nRRULE:\(text)\nEND:VEVENT\n"))
        }
        #expect(rule("FREQ=YEARLY")?.description == "line 6: RRULE FREQ=YEARLY is not supported; only DAILY, WEEKLY and MONTHLY are")
        #expect(rule("FREQ=HOURLY")?.code == .unsupported)
        #expect(rule("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1")?.description
            == "line 6: RRULE BYSETPOS is not supported (supported: FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, WKST)")
        #expect(rule("FREQ=WEEKLY;BYMONTHDAY=1")?.code == .unsupported)
        #expect(rule("FREQ=WEEKLY;BYDAY=1MO")?.code == .malformed)
        #expect(rule("FREQ=DAILY;COUNT=2;UNTIL=20260401T000000Z")?.code == .malformed)
        #expect(rule("INTERVAL=2")?.description == "line 6: RRULE has no FREQ")
        #expect(refusal(calendar("BEGIN:VEVENT\nDTSTART:20260302T090000Z\nRDATE:20260303T090000Z\nEND:VEVENT\n"))?.code == .unsupported)
        #expect(refusal(calendar("BEGIN:VTIMEZONE\nTZID:Odd\nBEGIN:STANDARD\nDTSTART:16010101T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=8,9,10;BYDAY=SU\nEND:STANDARD\nEND:VTIMEZONE\n"))?.code == .unsupported)
    }

    @Test func oversizedFeedsAreRefusedBeforeParsing() throws {
        let junk = [UInt8](repeating: 0x41, count: 10 << 20)
        #expect(throws: ICalendarError(.tooLarge, line: nil, "the feed is 10485760 bytes, more than the limit of 4194304")) {
            try ICalendarFeed(parsing: junk)
        }
    }

    @Test func tenMebibytesOfJunkUnderALargeLimitFailAtTheFirstLine() throws {
        var generator = SplitMix64(seed: 12)
        var junk = [UInt8](repeating: 0, count: 10 << 20)
        junk.withUnsafeMutableBytes { bytes in
            for i in bytes.bindMemory(to: UInt64.self).indices { bytes.storeBytes(of: generator.next(), toByteOffset: i * 8, as: UInt64.self) }
        }
        let started = ContinuousClock.now
        let error = #expect(throws: ICalendarError.self) {
            try ICalendarFeed(parsing: junk, options: ICalendarOptions(maximumBytes: 64 << 20))
        }
        #expect(error?.code == .malformed)
        #expect(error?.line == 1)
        #expect(error?.description.hasPrefix("line 1: not an iCalendar feed") == true)
        #expect(ContinuousClock.now - started < .seconds(5))
        // Readable text that is not iCalendar says the same.
        let prose = Array(String(repeating: "Lorem ipsum dolor sit amet\n", count: 1000).utf8)
        #expect(throws: ICalendarError(.malformed, line: 1, "not an iCalendar feed: it does not start with BEGIN:VCALENDAR (expected NAME:VALUE, found \"Lorem ipsum dolor sit amet\"; a line folded without a leading space or tab looks like this)")) {
            try ICalendarFeed(parsing: prose)
        }
    }
}
