// Command probe stands in for generated code in the sandbox tests: each
// subcommand tries one thing a hostile or broken app might do and reports
// the outcome. Exit status 3 means the attempt succeeded.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe CMD ARGS")
		os.Exit(2)
	}
	arg := func(i int) string {
		if len(os.Args) <= i {
			return ""
		}
		return os.Args[i]
	}
	switch os.Args[1] {
	case "dial": // dial ADDR
		c, err := net.DialTimeout("tcp", arg(2), 3*time.Second)
		if err != nil {
			fmt.Println("dial failed:", err)
			return
		}
		c.Write([]byte("hello from the sandbox\n"))
		c.Close()
		fmt.Println("CONNECTED")
		os.Exit(3)
	case "read": // read PATH
		b, err := os.ReadFile(arg(2))
		if err != nil {
			fmt.Println("read failed:", err)
			return
		}
		fmt.Printf("READ %q\n", b)
		os.Exit(3)
	case "write": // write PATH BYTES
		n, _ := strconv.Atoi(arg(3))
		f, err := os.Create(arg(2))
		if err != nil {
			fmt.Println("create failed:", err)
			return
		}
		w := bufio.NewWriter(f)
		_, err = w.Write(make([]byte, n))
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			fmt.Println("write failed:", err)
			return
		}
		if err := f.Close(); err != nil {
			fmt.Println("close failed:", err)
			return
		}
		fmt.Println("WROTE", n)
		os.Exit(3)
	case "spam": // spam BYTES: print that much to stdout, half as much to stderr
		n, _ := strconv.Atoi(arg(2))
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for i := 0; i < n; i += len(line) {
			os.Stdout.Write(line)
			if i%2048 == 0 {
				os.Stderr.Write(line)
			}
		}
	case "sleep": // sleep [MARKER]: block for ever
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	case "spawn": // spawn MARKER N: start N sleeping children, then sleep
		n, _ := strconv.Atoi(arg(3))
		for i := 0; i < n; i++ {
			cmd := exec.Command(os.Args[0], "sleep", arg(2))
			if err := cmd.Start(); err != nil {
				fmt.Println("spawn failed:", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	case "spin": // burn CPU for ever
		x := 0
		for {
			x++
		}
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "id":
		fmt.Println(os.Getuid(), os.Getgid())
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
