// Package portal is a webhook settings page for a host's customers: an
// http.Handler the host mounts in its own server, on its own login, where
// each customer lists, adds, edits, pauses and deletes its endpoints, reads
// their deliveries and attempts, redelivers and retries failures, rotates
// and reveals signing secrets, sends test events and reads the event-type
// catalog.
//
// # Mounting
//
// The handler takes the prefix it is mounted under and the host's
// Authorize callback, the same as the management API's:
//
//	mux.Handle("/settings/webhooks/", portal.NewHandler(d, &portal.Config{
//		Prefix: "/settings/webhooks",
//		Authorize: func(r *http.Request) (manage.Access, error) {
//			u, err := currentUser(r) // the host's session
//			if err != nil {
//				return manage.Access{}, err
//			}
//			return manage.Access{OrganizationID: u.OrgID, Actor: u.ID,
//				Capabilities: manage.CanRead | manage.CanManage}, nil
//		},
//		Title:       "Acme CRM webhooks",
//		AccentColor: "#0a7d5a",
//	}))
//
// The organization comes only from Authorize, never from the path, query
// or form: another organization's endpoint or delivery is answered 404,
// exactly as a missing one. Reading needs manage.CanRead, every change
// manage.CanManage as well, and revealing a secret
// manage.CanRevealSecrets. The portal goes through the Dispatcher's public
// organization-scoped API only.
//
// # Pages
//
// Pages are rendered on the server with html/template from embedded
// templates; the stylesheet and a few lines of JavaScript (copy buttons,
// nothing more) are embedded too. Every action is a form that posts back
// and is answered with a redirect, so the portal works without JavaScript.
// Light and dark follow prefers-color-scheme; Config.AccentColor is served
// as a CSS variable in a stylesheet of its own.
//
// # Security
//
// Every page carries a Content-Security-Policy that allows no inline
// script or style and no framing unless Config.FrameAncestors says
// otherwise. Every output is escaped by html/template. Signing secrets are
// shown only right after creating an endpoint or rotating its secret, and
// on reveal; stored basic-auth passwords never.
//
// Cross-site request forgery is refused with the check of Go 1.25's
// http.CrossOriginProtection, done here because the module supports Go
// 1.24: a request that is not GET, HEAD or OPTIONS must carry
// Sec-Fetch-Site "same-origin" (or "none"), or, from a browser that does
// not send it, an Origin whose host is the request's. Such a request from
// another origin, including another port of the same host, is answered
// 403 and changes nothing. A request with neither header does not come
// from a browser's form or script and passes; Config.TrustedOrigins lists
// origins whose posts pass too. Every browser of the last years sends
// these headers, so the portal needs no CSRF token. Pages that change
// state are never answered to GET.
package portal
