// Package browsertest tests the portal in a real headless Chromium: a
// module of its own, so that the core module never pulls chromedp.
//
// The tests drive Debian's chromium (or any Chrome named by
// RELAYHOOK_CHROME) against the portal on a loopback server. Without a
// browser they skip, except under CI (CI=true), where they fail.
// Screenshots of each page, light and dark, are written under
// screenshots/ (git-ignored) on every run.
package browsertest
