package standin

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// A minimal RFC 6455 implementation: the opening handshake and unfragmented
// frames, enough to prove that nginx passes websocket traffic both ways.

// WebSocket opcodes used here.
const (
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// WriteFrame writes one final frame. Clients must mask, servers must not.
func WriteFrame(w io.Writer, opcode byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | opcode}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, m|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, m|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, m|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if mask {
		var key [4]byte
		if _, err := rand.Read(key[:]); err != nil {
			return err
		}
		hdr = append(hdr, key[:]...)
		body = make([]byte, len(payload))
		for i, b := range payload {
			body[i] = b ^ key[i%4]
		}
	}
	if _, err := w.Write(append(hdr, body...)); err != nil {
		return fmt.Errorf("writing websocket frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame and unmasks it. wantMasked enforces the RFC rule
// for the receiving side (a server requires masked frames, a client unmasked).
func ReadFrame(r io.Reader, wantMasked bool) (opcode byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("fragmented websocket frames are not supported by this stand-in")
	}
	opcode = h[0] & 0x0F
	masked := h[1]&0x80 != 0
	if masked != wantMasked {
		return 0, nil, fmt.Errorf("websocket frame masked=%v, want %v", masked, wantMasked)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("websocket frame of %d bytes is too large for this stand-in", n)
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return opcode, payload, nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWebSocket upgrades the request, greets with "hello from <name>" and then
// echoes every text and binary message, answers pings, and closes on close.
func (b *Backend) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !headerHasToken(r.Header, "Upgrade", "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") ||
		r.Header.Get("Sec-WebSocket-Version") != "13" || key == "" {
		http.Error(w, "websocket handshake headers missing (Upgrade, Connection, Sec-WebSocket-Key/Version)", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	b.track(conn)
	defer b.untrack(conn)
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Backend: %s\r\n\r\n",
		AcceptKey(key), b.Name)
	if err := rw.Flush(); err != nil {
		return
	}
	if err := WriteFrame(conn, OpText, []byte("hello from "+b.Name), false); err != nil {
		return
	}
	for {
		op, p, err := ReadFrame(rw.Reader, true)
		if err != nil {
			return
		}
		switch op {
		case OpText, OpBinary:
			err = WriteFrame(conn, op, p, false)
		case OpPing:
			err = WriteFrame(conn, OpPong, p, false)
		case OpClose:
			_ = WriteFrame(conn, OpClose, p, false)
			return
		}
		if err != nil {
			return
		}
	}
}

// WSConn is the client side of a websocket opened by DialWebSocket.
type WSConn struct {
	Conn     net.Conn
	r        *bufio.Reader
	Response *http.Response // the 101 response
}

// DialWebSocket performs the opening handshake for path over an already
// connected net.Conn (plain or TLS) and checks the 101 answer.
func DialWebSocket(conn net.Conn, host, path string) (*WSConn, error) {
	var kb [16]byte
	if _, err := rand.Read(kb[:]); err != nil {
		return nil, err
	}
	key := base64.StdEncoding.EncodeToString(kb[:])
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, fmt.Errorf("sending websocket handshake: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("reading websocket handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("websocket handshake: status %s, body %q", resp.Status, body)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), AcceptKey(key); got != want {
		return nil, fmt.Errorf("websocket handshake: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	return &WSConn{Conn: conn, r: br, Response: resp}, nil
}

// Send writes one masked message.
func (c *WSConn) Send(opcode byte, p []byte) error { return WriteFrame(c.Conn, opcode, p, true) }

// Receive reads one message, waiting at most timeout.
func (c *WSConn) Receive(timeout time.Duration) (byte, []byte, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.Conn.SetReadDeadline(time.Time{})
	return ReadFrame(c.r, false)
}

// Close sends a close frame and closes the connection.
func (c *WSConn) Close() error {
	_ = c.Send(OpClose, []byte{0x03, 0xE8})
	return c.Conn.Close()
}
