package auth

import "crypto/ecdsa"

// OpenSigningKey unseals k's private key with secret (Config.Secret), for
// tests that forge tokens. It fails when the key was sealed with another
// secret.
func OpenSigningKey(secret []byte, k *SigningKey) (*ecdsa.PrivateKey, error) {
	aead, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	return openSigningKey(aead, k)
}
