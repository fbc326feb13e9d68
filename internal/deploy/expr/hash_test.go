package expr

import "testing"

// Vectors from the project's template digest §3.1 (they agree with the
// tests of Azure/terraform-provider-azapi's uniqueString).
func TestUniqueString(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"test"}, "rbgf3xv4ufgzg"},
		{[]string{"hello", "world"}, "a7wkljktk6wne"},
		{[]string{"abc"}, "cgtzqvhu4i23s"},
		{[]string{"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg"}, "bmg7c6xu4tw46"},
		{[]string{"foo", "bar", "baz"}, "xzi4ioaxtmth4"},
		{[]string{"/subscriptions/00000000-0000-0000-0000-000000000000", "resource-id"}, "cwvxuqg24sifi"},
	} {
		if got := UniqueString(tc.args...); got != tc.want {
			t.Errorf("uniqueString(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}
