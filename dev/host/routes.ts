/**
 * Route templates as the Functions host (ASP.NET Core routing) reads them: `restore/{id}`, optional `{id?}`,
 * catch-all `{*path}`, and the common constraints `{id:int}`, `{id:alpha}`, `{id:guid}`. Literal segments match
 * case-insensitively, like ASP.NET Core.
 */
export interface RouteTemplate {
  template: string;
  match(path: string): Record<string, string> | undefined;
}

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; catchAll: boolean; constraint?: string };

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  alpha: /^[a-z]+$/i,
  bool: /^(true|false)$/i,
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
};

/** Parses a route template (without the `api/` prefix). */
export function parseRouteTemplate(template: string): RouteTemplate {
  const segments = splitPath(template).map(parseSegment);
  return { template, match: (path) => matchSegments(segments, splitPath(path)) };
}

function parseSegment(text: string): Segment {
  const param = /^\{(\*{1,2})?([A-Za-z_][\w]*)(?::([a-z]+)[^}]*)?(\?)?\}$/.exec(text);
  if (!param) return { kind: 'literal', text: text.toLowerCase() };
  return {
    kind: 'param',
    name: param[2]!,
    catchAll: Boolean(param[1]),
    constraint: param[3],
    optional: Boolean(param[4]),
  };
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i];
    if (segment.kind === 'literal') {
      if (part === undefined || part.toLowerCase() !== segment.text) return undefined;
      continue;
    }
    if (segment.catchAll) {
      const rest = parts.slice(i).join('/');
      if (rest) params[segment.name] = rest;
      return params;
    }
    if (part === undefined) {
      if (!segment.optional) return undefined;
      continue;
    }
    const constraint = segment.constraint ? CONSTRAINTS[segment.constraint] : undefined;
    if (constraint && !constraint.test(part)) return undefined;
    params[segment.name] = part;
  }
  return parts.length <= segments.length ? params : undefined;
}

/** Splits a path into decoded segments; an undecodable segment is kept as sent. */
function splitPath(path: string): string[] {
  return path
    .split('/')
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
}
