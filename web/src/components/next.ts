// The `?next=` of the login page: where a player goes back to once logged in.

/** Where to go after logging in: a path on this site only (never another origin). */
export function safeNext(next: string | null): string {
  if (next === null || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login") || next.startsWith("/register")) return "/";
  return next;
}
