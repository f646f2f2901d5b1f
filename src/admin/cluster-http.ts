import { type ClusterAdmin, MAX_LOCATE_IDS } from "./cluster-service.ts";
import { AdminInvalidArgumentError } from "./errors.ts";

/**
 * The cluster's HTTP endpoints (the caller, http.ts, has checked the Host and the token):
 * - `GET /v1/cluster`: `{ enabled: false }` without a cluster; else `{ enabled: true, clusterName,
 *   nodeName, transferAddress, etcdEndpoints, nodes: [...] }` (ListNodes).
 * - `GET /v1/cluster/locate?ids=ID,ID` or `POST /v1/cluster/locate` with `{"ids": [...]}` (JSON, for
 *   long lists): `{ locations: [{ id, nodes }] }` (LocateObjects); 409 without a cluster.
 */

/** A POST body of MAX_LOCATE_IDS quoted ids with separators and spaces fits with room to spare. */
const MAX_LOCATE_BODY_BYTES = 1024 * 1024;

function json(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function idsOfBody(request: Request): Promise<unknown[]> {
  if (!/^application\/json\b/i.test(request.headers.get("content-type") ?? "")) {
    throw new AdminInvalidArgumentError('Send {"ids": [...]} with `content-type: application/json`.');
  }
  const tooLong = () =>
    new AdminInvalidArgumentError(
      `The request body is over ${MAX_LOCATE_BODY_BYTES} bytes; send at most ${MAX_LOCATE_IDS} ids.`,
    );
  if (Number(request.headers.get("content-length") ?? 0) > MAX_LOCATE_BODY_BYTES) throw tooLong();
  const text = await request.text();
  if (text.length > MAX_LOCATE_BODY_BYTES) throw tooLong();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AdminInvalidArgumentError("The request body is not valid JSON.");
  }
  const ids = (body as { ids?: unknown } | null)?.ids;
  if (!Array.isArray(ids)) throw new AdminInvalidArgumentError('Send {"ids": [...]}: a list of hex ids.');
  return ids;
}

function idsOfQuery(url: URL): string[] {
  const text = url.searchParams.getAll("ids").join(",");
  return text
    .split(",")
    .map((id) => id.trim())
    .filter((id) => id !== "");
}

/** Answers a /v1/cluster path, or returns null for any other path. */
export async function clusterHttp(
  request: Request,
  url: URL,
  cluster: ClusterAdmin,
): Promise<Response | null> {
  const path = url.pathname;
  if (path === "/v1/cluster" && (request.method === "GET" || request.method === "HEAD")) {
    if (!cluster.enabled) return json({ enabled: false });
    return json({ enabled: true, ...(await cluster.nodes()) });
  }
  if (path === "/v1/cluster/locate") {
    if (request.method === "POST") return json(await cluster.locate(await idsOfBody(request)));
    if (request.method === "GET" || request.method === "HEAD") {
      return json(await cluster.locate(idsOfQuery(url)));
    }
  }
  return null;
}
