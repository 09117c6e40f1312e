package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAgileCRM(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	s := out.String()
	require.Equal(t, 4, strings.Count(s, "signature ok"), s)

	// Each body byte for byte, at the URL of its module.
	for _, want := range []string{
		`agile_1 /agile/contacts "Contact is Created" signature ok` + "\n" +
			`    {"eventName":"Contact is Created","eventData":{"id":5629499534213120,"type":"PERSON","properties":[{"type":"SYSTEM","name":"first_name","value":"Ada"},{"type":"SYSTEM","name":"email","subtype":"work","value":"ada@example.com"}],"tags":["lead"]}}` + "\n",
		`agile_2 /agile/deals    "Deal is Created"  signature ok` + "\n" +
			`    {"eventName":"Deal is Created","eventData":{"id":5707702298738688,"name":"Analytical Engine","expected_value":1200,"milestone":"New","probability":10,"contact_ids":["5629499534213120"]}}` + "\n",
		`agile_3 /agile/contacts "Contact is Updated" signature ok` + "\n" +
			`    {"eventName":"Contact is Updated","eventData":{"id":5629499534213120,"type":"PERSON","properties":[{"type":"SYSTEM","name":"first_name","value":"Ada"},{"type":"SYSTEM","name":"last_name","value":"Lovelace"}],"tags":["lead","vip"]}}` + "\n",
		`agile_4 /agile/deals    "Deal is Updated"  signature ok` + "\n" +
			`    {"eventName":"Deal is Updated","eventData":{"id":5707702298738688,"name":"Analytical Engine","expected_value":1500,"milestone":"Won","probability":100,"contact_ids":["5629499534213120"]}}` + "\n",
	} {
		require.Contains(t, s, want)
	}

	// One subscription per module; each event reached only its module.
	require.Contains(t, s, `"Agile CRM contacts" contact.*  format=agilecrm`)
	require.Contains(t, s, `"Agile CRM deals"    deal.*     format=agilecrm`)
	require.Equal(t, 2, strings.Count(s, "/agile/contacts \"Contact is"))
	require.Equal(t, 2, strings.Count(s, "/agile/deals    \"Deal is"))
}
