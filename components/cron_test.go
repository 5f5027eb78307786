package components_test

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/components"
)

func mustCron(t *testing.T, expr string) components.CronSchedule {
	t.Helper()
	c, err := components.ParseCron(expr)
	if err != nil {
		t.Fatalf("ParseCron(%q): %v", expr, err)
	}
	return c
}

func TestParseCronErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"":                  "has 0 fields",
		"0 2 * *":           "has 4 fields",
		"0 2 * * * *":       "has 6 fields",
		"60 2 * * *":        "minute field \"60\": 60 is out of range 0-59",
		"0 24 * * *":        "hour field \"24\": 24 is out of range 0-23",
		"0 2 0 * *":         "day of month field \"0\": 0 is out of range 1-31",
		"0 2 * 13 *":        "month field \"13\": 13 is out of range 1-12",
		"0 2 * * 8":         "day of week field \"8\": 8 is out of range 0-7",
		"0 2 * * MON":       "names such as MON or JAN are not supported",
		"0 2 * JAN *":       "names such as MON or JAN are not supported",
		"*/0 * * * *":       "step \"0\" is not a positive number",
		"*/x * * * *":       "step \"x\" is not a positive number",
		"5-1 * * * *":       "range 5-1 runs backwards",
		"1,,2 * * * *":      "empty list item",
		"0 2 L * *":         "L, W, # and ? are not supported",
		"0 2 30 2 *":        "never fires",
		"0 2 31 4,6,9,11 *": "never fires",
		"@every 1h":         "unknown macro",
		"-1 * * * *":        "is not a number",
	} {
		_, err := components.ParseCron(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCron(%q) = %v, want an error containing %q", expr, err, want)
		}
	}
}

func TestCronNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ expr, from, want string }{
		{"0 2 * * *", "2026-12-01 12:15", "2026-12-02 02:00"},
		{"0 2 * * *", "2026-12-01 01:59", "2026-12-01 02:00"},
		{"0 2 * * *", "2026-12-01 02:00", "2026-12-02 02:00"}, // strictly after
		{"@daily", "2026-12-31 23:59", "2027-01-01 00:00"},
		{"@hourly", "2026-12-01 12:15", "2026-12-01 13:00"},
		{"*/15 * * * *", "2026-12-01 12:15", "2026-12-01 12:30"},
		{"5/20 * * * *", "2026-12-01 12:46", "2026-12-01 13:05"},
		{"30 1-5/2 * * *", "2026-12-01 03:31", "2026-12-01 05:30"},
		{"0 3 * * 0", "2026-12-01 00:00", "2026-12-06 03:00"}, // 2026-12-06 is a Sunday
		{"0 3 * * 7", "2026-12-01 00:00", "2026-12-06 03:00"}, // 7 is Sunday too
		{"0 3 * * 1-5", "2026-12-05 04:00", "2026-12-07 03:00"},
		// Both day fields restricted: either matches (the 13th or a Friday).
		{"0 0 13 * 5", "2026-12-01 00:00", "2026-12-04 00:00"},
		{"0 0 13 * 5", "2026-12-05 00:00", "2026-12-11 00:00"},
		// A day field starting with * does not widen: both must match.
		{"0 0 */2 * 5", "2026-12-01 00:00", "2026-12-11 00:00"},
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"@yearly", "2026-06-01 00:00", "2027-01-01 00:00"},
		{"@monthly", "2026-12-01 00:00", "2027-01-01 00:00"},
		{"@weekly", "2026-12-01 00:00", "2026-12-06 00:00"},
	} {
		got, ok := mustCron(t, c.expr).Next(at(c.from))
		if !ok || !got.Equal(at(c.want)) {
			t.Errorf("%q after %s: %v (%v), want %s", c.expr, c.from, got, ok, c.want)
		}
	}
}

func TestCronLongestGap(t *testing.T) {
	for expr, want := range map[string]time.Duration{
		"0 2 * * *":    24 * time.Hour,
		"0 2,14 * * *": 12 * time.Hour,
		"0 1,2 * * *":  23 * time.Hour,
		"*/15 * * * *": 15 * time.Minute,
		"* * * * *":    time.Minute,
		"0 2 * * 1":    7 * 24 * time.Hour,
		"0 2 * * 1-5":  3 * 24 * time.Hour, // Friday to Monday
		"0 0 1 * *":    31 * 24 * time.Hour,
		"0 0 29 2 *":   4 * 366 * 24 * time.Hour, // leap day to leap day (in 2001-2099): 1461 days
		"30 0 * * *":   24 * time.Hour,
		"0 0 1,15 * *": 17 * 24 * time.Hour,  // the 15th to the 1st of a 31-day month
		"0 0 * 1 *":    335 * 24 * time.Hour, // 31 January to 1 January: 335 days (336 after a leap February)
	} {
		got := mustCron(t, expr).LongestGap()
		if expr == "0 0 29 2 *" {
			want = 1461 * 24 * time.Hour
		}
		if expr == "0 0 * 1 *" {
			want = 336 * 24 * time.Hour
		}
		if got != want {
			t.Errorf("LongestGap(%q) = %s, want %s", expr, got, want)
		}
	}
	if got := components.BackupAlertAge(mustCron(t, components.DefaultBackupSchedule)); got != 36*time.Hour {
		t.Errorf("alert age of the default schedule %s, want 36h", got)
	}
}

// TestCronLongestGapAgainstNext checks LongestGap against the gaps between
// consecutive Next results over years, for schedules whose gaps are seen in
// that span.
func TestCronLongestGapAgainstNext(t *testing.T) {
	for _, expr := range []string{"0 2 * * *", "0 2 * * 1", "17 */5 * * *", "0 0 13 * 5", "0 6 1-7 * 1", "0 12 * 2,8 *"} {
		c := mustCron(t, expr)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		prev, _ := c.Next(at)
		var longest time.Duration
		for prev.Year() < 2034 {
			next, ok := c.Next(prev)
			if !ok {
				t.Fatalf("%q: no run after %s", expr, prev)
			}
			longest = max(longest, next.Sub(prev))
			prev = next
		}
		if got := c.LongestGap(); got != longest {
			t.Errorf("%q: LongestGap %s, the runs of 2026-2033 show %s", expr, got, longest)
		}
	}
}

// TestCronShellMatcherAgrees runs the container's matcher (backup-cron.sh)
// with a real shell on many expressions and times and checks it answers
// exactly what CronSchedule.Matches answers: the same expression means the
// same thing to the validation, the next-run computation and the job.
func TestCronShellMatcherAgrees(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	exprs := []string{
		"0 2 * * *", "*/15 * * * *", "5/20 * * * *", "0 2,14 * * *", "30 1-5/2 * * *", "0 3 * * 0", "0 3 * * 7",
		"0 3 * * 1-5", "0 0 13 * 5", "0 0 */2 * 5", "0 0 29 2 *", "7,8,9 8,9 8,9 8,9 *", "0-59/7 */3 1-31/3 */2 6-7",
		"59 23 31 12 *", "0 0 1 * 0", "0 0 * * 0,7", "0 0 1,15 * 3", "* * * * *", "0 8-17 * * 1-5", "08 09 * * *",
		"00 00 01 01 *", "1-7/3,40 2 * * *",
	}
	rng := rand.New(rand.NewSource(16))
	var times []time.Time
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 250; i++ {
		times = append(times, base.Add(time.Duration(rng.Int63n(int64(3*365*24*time.Hour)))).Truncate(time.Minute))
	}
	// Times each schedule fires at, and the minute before and after.
	for _, e := range exprs {
		c := mustCron(t, e)
		at := base
		for i := 0; i < 6; i++ {
			n, _ := c.Next(at)
			times = append(times, n, n.Add(-time.Minute), n.Add(time.Minute))
			at = n
		}
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "check.sh")
	lib, err := os.ReadFile("backup-cron.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, append(lib, []byte(`
while IFS='|' read -r expr when; do
  # shellcheck disable=SC2086
  if cron_match "$expr" $when; then echo 1; else echo 0; fi
done
`)...), 0o644); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	var want []string
	for _, e := range exprs {
		c := mustCron(t, e)
		for _, tm := range times {
			fmt.Fprintf(&in, "%s|%s\n", e, tm.Format("04 15 02 01 ")+fmt.Sprint(int(tm.Weekday())))
			w := "0"
			if c.Matches(tm) {
				w = "1"
			}
			want = append(want, w)
		}
	}
	cmd := exec.Command(sh, script)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	lines := strings.Split(in.String(), "\n")
	i, matches := 0, 0
	for sc.Scan() {
		if i >= len(want) {
			t.Fatalf("more answers than questions")
		}
		if sc.Text() != want[i] {
			t.Errorf("%s: shell says %s, Go says %s", lines[i], sc.Text(), want[i])
		}
		if want[i] == "1" {
			matches++
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("%d answers for %d questions", i, len(want))
	}
	if matches < len(exprs)*6 {
		t.Errorf("only %d matching cases; the comparison must cover matches too", matches)
	}
}
