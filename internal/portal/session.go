package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/privlink/privlink/internal/fsutil"
)

// cookieName is the portal's session cookie.
const cookieName = "privlink_session"

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 8 * time.Hour

// session is what the session cookie carries, sealed with the portal's key:
// who signed in, until when, and the session's anti-forgery token. It holds
// no token: the portal issues the principal's tokens for each API call, as
// a first-party application holding a refresh token would, and a principal
// deleted since the sign-in is signed out.
type session struct {
	// ObjectID is the signed-in principal's object id.
	ObjectID string `json:"oid"`
	// Client is the application a user signed in with.
	Client string `json:"client,omitempty"`
	// Expires is when the session ends.
	Expires time.Time `json:"exp"`
	// CSRF is the session's anti-forgery token: every form and htmx request
	// that changes something carries it.
	CSRF string `json:"csrf"`
}

// sealer seals and opens session cookies with AES-256-GCM.
type sealer struct{ aead cipher.AEAD }

// KeyFile is the file in the data directory that holds the key sealing
// session cookies (32 bytes).
const KeyFile = "portal-key"

// EnsureKey creates the portal's key in dir unless it exists (what New
// would create), so that replicas can share it.
func EnsureKey(dir string) error {
	_, err := loadSealer(dir)
	return err
}

// loadSealer reads the portal's key from dir (portal-key), creating it on
// first use; a key kept on disk keeps sessions across restarts.
func loadSealer(dir string) (*sealer, error) {
	path := filepath.Join(dir, KeyFile)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		if err := fsutil.WriteFileOnce(path, k, 0o600); err != nil {
			return nil, err
		}
		key, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("portal: %s is not a 32-byte key", path)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(v *session) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(cookieName))), nil
}

func (s *sealer) open(text string) (*session, bool) {
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, false
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(cookieName))
	if err != nil {
		return nil, false
	}
	v := &session{}
	if json.Unmarshal(plain, v) != nil {
		return nil, false
	}
	return v, true
}

// setSession writes the session cookie: HTTP-only (no script reads it),
// Secure (HTTPS only), SameSite=Strict (no other site's page sends it).
func setSession(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
