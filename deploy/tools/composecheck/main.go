// Command composecheck loads a Compose file the way `docker compose config` does — with compose-go,
// the loader of Docker Compose v2: the Compose Specification's JSON schema, interpolation, YAML merge
// keys, and the consistency checks between services, networks and volumes — and prints the loaded
// model as JSON. No Docker daemon is involved. Built by services/deploy/validate.py into .tools/bin.
//
// Usage: composecheck FILE   (exit 0 and the model on stdout, or exit 1 and the reason on stderr)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck FILE")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err != nil {
		fail(err)
	}
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := cli.ProjectFromOptions(context.Background(), options)
	if err != nil {
		fail(err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "composecheck:", err)
	os.Exit(1)
}
