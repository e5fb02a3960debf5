// A minimal VS Code client for `kannot lsp`: diagnostics, quick fixes and hover for the C files
// of the kernel tree open as the workspace folder (the server walks up to the tree's top).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const cfg = vscode.workspace.getConfiguration("kannot");
  const args = ["lsp", "--arch", cfg.get("arch", "x86"), ...cfg.get("extraArgs", [])];
  const server = { command: cfg.get("command", "kannot"), args };
  client = new LanguageClient(
    "kannot",
    "kannot",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "c" },
        { scheme: "file", language: "cpp", pattern: "**/*.h" },
      ],
      synchronize: {
        // Kconfig files, Makefiles and .kannot.toml change what exists and what is allowed
        fileEvents: vscode.workspace.createFileSystemWatcher("**/{Kconfig*,Makefile,Kbuild,.kannot.toml}"),
      },
    },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
