// Command pulumi-language-python is this project's own Python language host for the Pulumi CLI.
//
// Pulumi's host lives in a nested Go module that the module proxy this project builds from does
// not serve (every version answers 403), so `make pulumi` builds this small host instead, against
// the same pinned github.com/pulumi/pulumi/sdk/v3. It implements the part of the language-runtime
// protocol that running a Python program needs: it prepares the project's virtualenv with the
// SDK's own toolchain package, reports the program's Pulumi packages, and runs the program through
// `pulumi-language-python-exec` (copied next to it from the same SDK module). Code generation,
// policy packs and debugging are not implemented and answer Unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The executor script's name, and the exit code by which it says it has already shown the error.
const (
	executorName          = "pulumi-language-python-exec"
	exitAfterShowingError = 32
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	executor := flag.String("use-executor", "", "the executor script (default: "+executorName+" next to this binary)")
	flag.String("tracing", "", "accepted for compatibility; ignored")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	if *executor == "" {
		self, err := os.Executable()
		if err == nil {
			self, err = filepath.EvalSymlinks(self)
		}
		if err != nil {
			fail("cannot locate this executable: %v", err)
		}
		*executor = filepath.Join(filepath.Dir(self), executorName)
	}
	if _, err := os.Stat(*executor); err != nil {
		fail("missing executor %s: %v", *executor, err)
	}

	host := &languageHost{executor: *executor}
	if args := flag.Args(); len(args) > 0 {
		host.engineAddress = args[0]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	host.runCtx, host.cancelRuns = context.WithCancel(ctx)
	if host.engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, host.engineAddress, 5*time.Minute, stop); err != nil {
			fail("cannot watch the engine at %s: %v", host.engineAddress, err)
		}
	}

	done := make(chan bool)
	go func() { <-ctx.Done(); close(done) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail("cannot start the language host: %v", err)
	}
	fmt.Println(handle.Port) // the engine reads the port from the first line
	if err := <-handle.Done; err != nil {
		fail("language host stopped: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor      string
	mu            sync.Mutex
	engineAddress string
	runCtx        context.Context
	cancelRuns    context.CancelFunc
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelRuns()
	return &emptypb.Empty{}, nil
}

// pythonOptions reads Pulumi.yaml's runtime options (toolchain, virtualenv).
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	options := info.GetOptions().AsMap()
	if v, ok := options["virtualenv"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("the runtime option virtualenv must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := options["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("unsupported runtime option toolchain: %v (pip, poetry or uv)", v)
		}
	}
	if _, ok := options["typechecker"]; ok {
		return opts, errors.New("the runtime option typechecker is not supported by this language host")
	}
	return opts, nil
}

// resolveToolchain is the SDK's toolchain (pip, poetry or uv) for the program's runtime options.
func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts, err := pythonOptions(info)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

// The packages of the virtualenv that the engine may need plugins for. Like Pulumi's own host, it
// looks for pulumi-plugin.json in the package named after each distribution (so editable installs
// count), and takes a distribution named pulumi-* without one for a resource plugin.
const listPackagesScript = `
import importlib.metadata as md, importlib.util, json, os
out, seen = [], set()
for dist in md.distributions():
    name = dist.metadata["Name"] or ""
    if not name or name.lower() in seen:
        continue
    seen.add(name.lower())
    plugin = None
    try:
        spec = importlib.util.find_spec(name.replace("-", "_"))
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = os.path.join(str(folder), "pulumi-plugin.json")
            if os.path.isfile(path):
                with open(path) as f:
                    plugin = json.load(f)
                break
    except Exception:
        plugin = None
    out.append({"name": name, "version": dist.version, "plugin": plugin})
print(json.dumps(out))
`

type pythonPackage struct {
	Name    string         `json:"name"`
	Version string         `json:"version"`
	Plugin  map[string]any `json:"plugin"`
}

// Distributions named pulumi-* that are known not to be plugins.
var notPlugins = map[string]bool{"pulumi-policy": true, "pulumi-esc-sdk": true}

func packageDependency(p pythonPackage) *pulumirpc.PackageDependency {
	normalized := strings.ReplaceAll(strings.ToLower(p.Name), "_", "-")
	if p.Plugin == nil {
		if !strings.HasPrefix(normalized, "pulumi-") || notPlugins[normalized] {
			return nil
		}
		return &pulumirpc.PackageDependency{
			Kind: "resource", Name: strings.TrimPrefix(normalized, "pulumi-"), Version: pep440ToSemver(p.Version),
		}
	}
	if resource, ok := p.Plugin["resource"].(bool); !ok || !resource {
		return nil
	}
	dep := &pulumirpc.PackageDependency{Kind: "resource", Name: strings.TrimPrefix(normalized, "pulumi-")}
	if name, ok := p.Plugin["name"].(string); ok && name != "" {
		dep.Name = name
	}
	dep.Version = pep440ToSemver(p.Version)
	if v, ok := p.Plugin["version"].(string); ok && v != "" {
		dep.Version = v
	}
	if server, ok := p.Plugin["server"].(string); ok {
		dep.Server = server
	}
	return dep
}

// pep440ToSemver turns the common Python release forms (1.2.3, 1.2.3a1, 1.2.3.dev4) into semver.
func pep440ToSemver(v string) string {
	for _, tag := range []string{"a", "b", "rc", ".dev"} {
		if i := strings.Index(v, tag); i > 0 {
			pre := strings.TrimPrefix(v[i:], ".")
			if tag == "a" {
				pre = "alpha." + strings.TrimPrefix(pre, "a")
			} else if tag == "b" {
				pre = "beta." + strings.TrimPrefix(pre, "b")
			}
			return "v" + v[:i] + "-" + pre
		}
	}
	return "v" + v
}

func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	// Creates the virtualenv and installs requirements.txt when it is missing, as Pulumi's host does.
	if err := tc.EnsureVenv(ctx, req.GetInfo().GetProgramDirectory(), false, true, os.Stdout, os.Stderr); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", listPackagesScript)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the virtualenv's packages: %w", err)
	}
	var pkgs []pythonPackage
	if err := json.Unmarshal(out, &pkgs); err != nil {
		return nil, fmt.Errorf("reading the virtualenv's package list: %w", err)
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range pkgs {
		if dep := packageDependency(p); dep != nil {
			resp.Packages = append(resp.Packages, dep)
		}
	}
	return resp, nil
}

// runArguments is the executor's command line, in the flags it defines.
func (h *languageHost) runArguments(req *pulumirpc.RunRequest, engine string) []string {
	args := []string{h.executor}
	flagValue := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagValue("monitor", req.GetMonitorAddress())
	flagValue("engine", engine)
	flagValue("project", req.GetProject())
	flagValue("root_directory", req.GetInfo().GetRootDirectory())
	flagValue("stack", req.GetStack())
	flagValue("pwd", req.GetPwd())
	flagValue("dry_run", strconv.FormatBool(req.GetDryRun()))
	flagValue("parallel", strconv.Itoa(int(req.GetParallel())))
	flagValue("organization", req.GetOrganization())
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if req.GetAttachDebugger() {
		return &pulumirpc.RunResponse{Error: "debugging is not supported by this language host"}, nil
	}
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // the executor reads an object, never null
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, fmt.Errorf("serializing the configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing the secret configuration keys: %w", err)
	}

	h.mu.Lock()
	engine, runCtx := h.engineAddress, h.runCtx
	h.mu.Unlock()
	cmdCtx, cancel := context.WithCancel(runCtx)
	defer cancel()
	context.AfterFunc(ctx, cancel)
	cmd, err := tc.Command(cmdCtx, h.runArguments(req, engine)...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))

	err = cmd.Run()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.ExitStatus() == exitAfterShowingError {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python executor: %v", err)}, nil
}

// InstallDependencies (`pulumi install`) installs the program's dependencies every time, as Pulumi's
// own host does: it (re)creates the virtualenv, updates pip, setuptools and wheel in it and runs
// `pip install -r requirements.txt` (for the pip toolchain; poetry and uv run their own install),
// streaming the installer's output between the same two lines Pulumi's host prints. So a
// virtualenv left broken by an earlier failed install is repaired, not reported as ready.
func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close() // best effort; the explicit Close below reports its error

	if _, err := stdout.Write([]byte("Installing dependencies...\n\n")); err != nil {
		return err
	}
	if err := tc.InstallDependencies(server.Context(), req.GetInfo().GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true /*showOutput*/, stdout, stderr); err != nil {
		return err
	}
	if _, err := stdout.Write([]byte("Finished installing dependencies\n\n")); err != nil {
		return err
	}
	return closer.Close()
}
