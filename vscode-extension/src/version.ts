/**
 * The extension and the server come from two places (the Marketplace and PyPI); at start the extension
 * compares its version with the server's `serverInfo.version` from the initialize result. Pure.
 */

export interface ServerInfo {
  readonly name: string;
  readonly version?: string;
}

function normalized(version: string): string {
  return version.trim().replace(/^v/i, "");
}

/** A warning when the versions differ (or the server does not say its version), else undefined. */
export function versionMismatch(extensionVersion: string, server: ServerInfo | undefined): string | undefined {
  const fix = "Install matching versions: `pip install -U micro-agent` (in the environment the server runs from) and update the extension.";
  if (!server?.version) {
    return `Micro Agent: the language server did not report its version (the extension is ${extensionVersion}); it may be too old for this extension. ${fix}`;
  }
  if (normalized(server.version) === normalized(extensionVersion)) return undefined;
  return `Micro Agent: the language server is version ${server.version} but the extension is ${extensionVersion}; some features may not work. ${fix}`;
}
