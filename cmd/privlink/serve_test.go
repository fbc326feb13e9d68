package main

import (
	"strings"
	"testing"
)

// TestStoreArg: the line serve prints to run env works as printed when the
// store came from $PRIVLINK_STORE, and never shows a password.
func TestStoreArg(t *testing.T) {
	const withPassword = "postgres://privlink:secret@127.0.0.1:5432/privlink"
	t.Setenv("PRIVLINK_STORE", withPassword)
	if arg, note := storeArg(withPassword); arg != `"$PRIVLINK_STORE"` || note != "" {
		t.Errorf("store from $PRIVLINK_STORE: %s%s", arg, note)
	}
	t.Setenv("PRIVLINK_STORE", "")
	arg, note := storeArg(withPassword)
	if strings.Contains(arg, "secret") || !strings.Contains(arg, "privlink:xxxxx@") || !strings.Contains(note, "elided") {
		t.Errorf("store with a password from --store: %s%s", arg, note)
	}
	if arg, note := storeArg("postgres://privlink@/privlink?host=/tmp"); arg != `'postgres://privlink@/privlink?host=/tmp'` || note != "" {
		t.Errorf("store without a password: %s%s", arg, note)
	}
}
