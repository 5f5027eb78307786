package components

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CronSchedule is a parsed five-field cron expression (minute, hour, day of
// month, month, day of week), read in UTC. It accepts what the backup
// container's matcher (backup-cron.sh) accepts, with the same meaning:
//
//   - each field is a comma-separated list of items; an item is `*`, a
//     number N, a range N-M, or one of those followed by /S (every S-th
//     value of the range; N/S means N to the field's maximum);
//   - day of week is 0-7, where both 0 and 7 are Sunday;
//   - as in Vixie cron (Debian's cron), when both day fields are restricted
//     (neither starts with `*`), a day matches when either matches;
//     otherwise both must match;
//   - @hourly, @daily (@midnight), @weekly, @monthly and @yearly
//     (@annually) stand for their usual five fields.
//
// Names (JAN, MON) and the non-standard characters L, W, # and ? are
// refused, so that no expression means different things to different
// crons.
type CronSchedule struct {
	// Expr is the five-field form (a macro is expanded).
	Expr string
	// the values each field allows, as bit sets
	minute, hour, dom, month, dow uint64
	// domStar, dowStar: the day field starts with `*` (unrestricted)
	domStar, dowStar bool
}

// cronMacros are the @ forms and their five fields.
var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// cronFields names the five fields and their ranges.
var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

// ParseCron parses a cron expression. Its errors say which field is wrong
// and why; an expression that can never fire (30 2 * = 30 February) is
// refused too.
func ParseCron(expr string) (CronSchedule, error) {
	s := strings.TrimSpace(expr)
	if m, ok := cronMacros[s]; ok {
		s = m
	} else if strings.HasPrefix(s, "@") {
		return CronSchedule{}, fmt.Errorf("%q: unknown macro (want @hourly, @daily, @weekly, @monthly, @yearly, or five fields)", expr)
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return CronSchedule{}, fmt.Errorf("%q has %d fields; want five: minute hour day-of-month month day-of-week (for example \"0 2 * * *\", daily at 02:00 UTC)", expr, len(fields))
	}
	c := CronSchedule{Expr: strings.Join(fields, " ")}
	sets := []*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range fields {
		bits, err := parseCronField(f, cronFields[i].min, cronFields[i].max)
		if err != nil {
			return CronSchedule{}, fmt.Errorf("%q: %s field %q: %v", expr, cronFields[i].name, f, err)
		}
		*sets[i] = bits
	}
	// Sunday is 0 and 7.
	if c.dow&(1<<7) != 0 {
		c.dow = c.dow&^(1<<7) | 1
	}
	c.domStar = strings.HasPrefix(fields[2], "*")
	c.dowStar = strings.HasPrefix(fields[4], "*")
	if _, ok := c.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)); !ok {
		return CronSchedule{}, fmt.Errorf("%q never fires (no such day: check the day of month against the month)", expr)
	}
	return c, nil
}

// parseCronField parses one field into a bit set of the values in
// [min, max] it allows.
func parseCronField(f string, min, max int) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(f, ",") {
		if item == "" {
			return 0, errors.New("empty list item")
		}
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || !isDigits(stepText) {
				return 0, fmt.Errorf("step %q is not a positive number", stepText)
			}
			step = n
		}
		lo, hi := min, max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = cronNumber(a, min, max); err != nil {
				return 0, err
			}
			if hi, err = cronNumber(b, min, max); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("range %s runs backwards", rng)
			}
		default:
			n, err := cronNumber(rng, min, max)
			if err != nil {
				return 0, err
			}
			lo = n
			if !hasStep {
				hi = n
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func cronNumber(s string, min, max int) (int, error) {
	if !isDigits(s) {
		if s != "" && strings.ContainsAny(s, "LW#?") {
			return 0, fmt.Errorf("%q: L, W, # and ? are not supported", s)
		}
		return 0, fmt.Errorf("%q is not a number (names such as MON or JAN are not supported)", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s is out of range %d-%d", s, min, max)
	}
	return n, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// dayMatches reports whether the schedule runs on t's day (UTC).
func (c CronSchedule) dayMatches(t time.Time) bool {
	if c.month&(1<<int(t.Month())) == 0 {
		return false
	}
	d := c.dom&(1<<t.Day()) != 0
	w := c.dow&(1<<int(t.Weekday())) != 0
	if !c.domStar && !c.dowStar {
		return d || w
	}
	return d && w
}

// Matches reports whether the schedule fires in t's minute (UTC).
func (c CronSchedule) Matches(t time.Time) bool {
	t = t.UTC()
	return c.minute&(1<<t.Minute()) != 0 && c.hour&(1<<t.Hour()) != 0 && c.dayMatches(t)
}

// minutesOfDay lists, in order, the minutes of a day (0..1439) at which
// the schedule fires on a day it runs.
func (c CronSchedule) minutesOfDay() []int {
	var out []int
	for h := 0; h < 24; h++ {
		if c.hour&(1<<h) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if c.minute&(1<<m) != 0 {
				out = append(out, h*60+m)
			}
		}
	}
	return out
}

// cronHorizonDays bounds the search for the next day a schedule runs: the
// Gregorian weekdays and leap days repeat every 28 years between 1901 and
// 2099, so a schedule that fires at all fires within that span.
const cronHorizonDays = 28*366 + 1

// Next returns the first time strictly after t (UTC, whole minutes) at
// which the schedule fires, and false when it never does.
func (c CronSchedule) Next(t time.Time) (time.Time, bool) {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	mins := c.minutesOfDay()
	if len(mins) == 0 {
		return time.Time{}, false
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	from := t.Hour()*60 + t.Minute()
	for i := 0; i < cronHorizonDays; i++ {
		if c.dayMatches(day) {
			for _, m := range mins {
				if m >= from {
					return day.Add(time.Duration(m) * time.Minute), true
				}
			}
		}
		day = day.AddDate(0, 0, 1)
		from = 0
	}
	return time.Time{}, false
}

// LongestGap is the longest time between two consecutive runs of the
// schedule, over the 28-year cycle that repeats between 1901 and 2099: a
// daily schedule gives 24h, "0 2 * * 1" gives 7 days, "0 0 29 2 *" four
// years. A backup is overdue when its last success is older than a
// multiple of it (the monitoring alert uses 1.5 ×, BackupAlertAge).
func (c CronSchedule) LongestGap() time.Duration {
	mins := c.minutesOfDay()
	if len(mins) == 0 {
		return 0
	}
	var gap time.Duration
	for i := 1; i < len(mins); i++ {
		gap = max(gap, time.Duration(mins[i]-mins[i-1])*time.Minute)
	}
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(28, 0, 0) // the same weekday and leap pattern again
	var first, last time.Time
	for day := start; day.Before(end); day = day.AddDate(0, 0, 1) {
		if !c.dayMatches(day) {
			continue
		}
		if !last.IsZero() {
			gap = max(gap, day.Add(time.Duration(mins[0])*time.Minute).Sub(last))
		} else {
			first = day
		}
		last = day.Add(time.Duration(mins[len(mins)-1]) * time.Minute)
	}
	if first.IsZero() {
		return 0
	}
	// From the last run of the cycle to the first run of the next one.
	wrap := first.AddDate(28, 0, 0).Add(time.Duration(mins[0]) * time.Minute)
	return max(gap, wrap.Sub(last))
}

// BackupAlertAge is how old the last successful backup may be before the
// monitoring alert fires: 1.5 × the schedule's longest gap between runs.
func BackupAlertAge(c CronSchedule) time.Duration { return c.LongestGap() * 3 / 2 }
