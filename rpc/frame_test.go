package rpc

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// The frame reader cuts a stream of concatenated JSON values, with or
// without whitespace between them, whatever the brackets inside strings.
func TestFrameReader(t *testing.T) {
	in := `{"a":"}{[\"x"}[1,[2]]  "s\\" 42 true{"b":{}}` + "\n" + `{"c":1}`
	fr := newFrameReader(strings.NewReader(in), 1000)
	want := []string{`{"a":"}{[\"x"}`, `[1,[2]]`, `"s\\"`, `42`, `true`, `{"b":{}}`, `{"c":1}`}
	for i, w := range want {
		got, err := fr.next()
		if err != nil || string(got) != w {
			t.Fatalf("value %d: %q %v, want %q", i, got, err, w)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("at the end: %v, want EOF", err)
	}

	for i, tt := range []struct {
		in   string
		max  int64
		want error
	}{
		{`{"a":1`, 100, io.ErrUnexpectedEOF},
		{`{"a":"x`, 100, io.ErrUnexpectedEOF},
		{`"x\"`, 100, io.ErrUnexpectedEOF},
		{`{"a":[1}`, 100, errFraming},
		{`}`, 100, errFraming},
		{`{"a":"` + strings.Repeat("x", 200) + `"}`, 100, errTooLarge},
		{strings.Repeat("1", 101), 100, errTooLarge},
	} {
		got, err := newFrameReader(strings.NewReader(tt.in), tt.max).next()
		if !errors.Is(err, tt.want) {
			t.Errorf("#%d %q: %v, want %v", i, tt.in, err, tt.want)
		}
		// A value cut short comes with what arrived of it, for the answer.
		if tt.want == io.ErrUnexpectedEOF && string(got) != tt.in {
			t.Errorf("#%d %q: cut short, the bytes read are %q", i, tt.in, got)
		}
	}
}
