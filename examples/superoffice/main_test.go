package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSuperOffice(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	s := out.String()

	// The partner's endpoint verified every request and got the custom
	// header, and the properties injected into the body, byte for byte.
	for _, want := range []string{
		`so_1 signature ok, X-SuperOffice-Tenant: Cust12345` + "\n" +
			`      {"eventTrigger":"contact.created","eventTimestamp":"2026-01-24T09:42:59.000+00:00","organizationId":"Cust12345","data":{"ContactId":42,"Name":"Lovelace Ltd"},"customParameters":{},"ContextIdentifier":"Cust12345","Environment":"sod"}` + "\n",
		`so_2 signature ok, X-SuperOffice-Tenant: Cust12345` + "\n" +
			`      {"eventTrigger":"sale.changed","eventTimestamp":"2026-01-24T09:42:59.000+00:00","organizationId":"Cust12345","data":{"SaleId":9,"Status":"Won","Amount":1200},"customParameters":{},"ContextIdentifier":"Cust12345","Environment":"sod"}` + "\n",
		`so_3 signature ok, X-SuperOffice-Tenant: Cust12345` + "\n" +
			`      {"eventTrigger":"sale.changed","eventTimestamp":"2026-01-24T09:42:59.000+00:00","organizationId":"Cust12345","data":{"SaleId":10,"Status":"Lost","Amount":300},"customParameters":{},"ContextIdentifier":"Cust12345","Environment":"sod"}` + "\n",
	} {
		require.Contains(t, s, want)
	}
	require.Equal(t, 3, strings.Count(s, "signature ok"), s)

	// The failing endpoint: three failures, TooManyErrors, the errors
	// e-mail told once; skipped while off; resumed and replayed after.
	require.Equal(t, 1, strings.Count(s, "e-mail to"), s)
	for _, want := range []string{
		`e-mail to erp-team@partner.example: webhook "Legacy ERP" is now TooManyErrors (endpoint answered 500 Internal Server Error)`,
		`"Legacy ERP": state=TooManyErrors, consecutive failures=3, so_2 pending after 3 attempt(s)`,
		"while it is off, it is skipped:\n  sale.changed    so_3 -> 2 deliveries\n",
		"replayed 1 missed event(s)",
		`"Legacy ERP": state=Active, consecutive failures=0, so_2 delivered after 4 attempt(s), so_3 delivered after 1 attempt(s)`,
		"erp saw:\n  so_2 answered 500\n  so_2 answered 500\n  so_2 answered 500\n  so_2 answered 200\n  so_3 answered 200\n",
	} {
		require.Contains(t, s, want)
	}

	// The crmscript type ran in-process, once per sale event.
	require.Contains(t, s, "crmscript saw:\n"+
		"  so_2 OnSaleChanged(sale.changed): sale 9 is now Won\n"+
		"  so_3 OnSaleChanged(sale.changed): sale 10 is now Lost\n")
	require.Contains(t, s, `"Sale script"        type=crmscript state=Active events=sale.changed registered by BOB`)

	// A stopped webhook receives nothing.
	require.Contains(t, s, "\"Partner sales sync\" stopped:\n  contact.created so_4 -> 0 deliveries\n")
}
