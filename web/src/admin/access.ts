// Which back-office pages and actions each staff role may use, mirroring the API's `require_role` guards
// (src/sportsbook/*/routes.py). Admins may use everything. The API stays the judge: this only hides what
// a role would be refused.

export type StaffRole = "admin" | "trader" | "risk" | "payments" | "support";

export type Action =
  | "trading.read" // GET /api/v1/admin/events/{id}
  | "trading.write" // PATCH events/markets, results, settlements, non-runners, bet cancels
  | "jobs.read" // GET /api/v1/admin/settlement-jobs/{id}
  | "liabilities.read"
  | "players.read" // GET /api/v1/admin/players[/{id}]
  | "players.kyc" // PUT /api/v1/admin/players/{id}/kyc
  | "players.payments" // GET /api/v1/admin/players/{id}/payments
  | "players.adjust" // POST /api/v1/admin/adjustments
  | "payments.admin" // connectors, success rates, blocks
  | "monitoring.read";

const GRANTS: Record<Action, readonly StaffRole[]> = {
  "trading.read": ["trader"],
  "trading.write": ["trader"],
  "jobs.read": ["trader", "risk"],
  "liabilities.read": ["trader", "risk"],
  "players.read": ["support", "risk", "payments"],
  "players.kyc": ["payments", "risk", "support"],
  "players.payments": ["payments", "support", "risk"],
  "players.adjust": ["payments"],
  "payments.admin": ["payments"],
  "monitoring.read": ["trader", "risk", "payments", "support"],
};

export function can(role: string, action: Action): boolean {
  return role === "admin" || (GRANTS[action] as readonly string[]).includes(role);
}

export type Page = { path: string; label: string; action: Action };

export const PAGES: readonly Page[] = [
  { path: "trading", label: "Trading", action: "trading.read" },
  { path: "liabilities", label: "Liabilities", action: "liabilities.read" },
  { path: "players", label: "Players", action: "players.read" },
  { path: "payments", label: "Payments", action: "payments.admin" },
  { path: "monitoring", label: "Monitoring", action: "monitoring.read" },
];

/** The pages a role may open, in menu order. */
export function pagesFor(role: string): Page[] {
  return PAGES.filter((p) => can(role, p.action));
}
