// The back office: staff log in with the same sessions as players; their role decides the pages they see.
import { useState, type FormEvent } from "react";
import { Link, NavLink, Navigate, Route, Routes } from "react-router";
import { isStaff, useAuth } from "../auth";
import { can, pagesFor, type Action } from "./access";
import { ErrorNote } from "./common";
import { EventDetail } from "./EventDetail";
import { Liabilities } from "./Liabilities";
import { Monitoring } from "./Monitoring";
import { Payments } from "./Payments";
import { PlayerDetail } from "./PlayerDetail";
import { Players } from "./Players";
import { Trading } from "./Trading";
import "./admin.css";

export default function AdminApp() {
  const { me, loading, logout } = useAuth();
  if (loading) return <p className="adm-muted">Loading…</p>;
  if (me === null || !isStaff(me)) return <StaffLogin signedInAs={me?.email ?? null} />;
  const role = me.role;
  const pages = pagesFor(role);
  const guard = (action: Action, element: React.ReactElement) =>
    can(role, action) ? element : <p className="adm-error" role="alert">Your role ({role}) may not use this page.</p>;
  return (
    <div className="adm">
      <a className="adm-skip" href="#adm-main">
        Skip to content
      </a>
      <header className="adm-top">
        <Link to="/admin" className="adm-brand">
          Sportsbook back office
        </Link>
        <nav aria-label="Back office" className="adm-nav">
          {pages.map((p) => (
            <NavLink key={p.path} to={p.path}>
              {p.label}
            </NavLink>
          ))}
        </nav>
        <div className="adm-session">
          <span>
            {me.email} <span className="adm-role">{role}</span>
          </span>
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="adm-main" className="adm-main">
        <Routes>
          <Route
            index
            element={
              pages[0] ? <Navigate to={pages[0].path} replace /> : <p>Your role has no back-office pages.</p>
            }
          />
          <Route path="trading" element={guard("trading.read", <Trading />)} />
          <Route path="trading/events/:eventId" element={guard("trading.read", <EventDetail />)} />
          <Route path="liabilities" element={guard("liabilities.read", <Liabilities />)} />
          <Route path="players" element={guard("players.read", <Players />)} />
          <Route path="players/:playerId" element={guard("players.read", <PlayerDetail role={role} />)} />
          <Route path="payments" element={guard("payments.admin", <Payments />)} />
          <Route path="monitoring" element={guard("monitoring.read", <Monitoring />)} />
          <Route path="*" element={<p>This back-office page does not exist.</p>} />
        </Routes>
      </main>
    </div>
  );
}

function StaffLogin({ signedInAs }: { signedInAs: string | null }) {
  const { login, logout } = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [notStaff, setNotStaff] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotStaff(false);
    try {
      const account = await login(email, password);
      if (!isStaff(account)) setNotStaff(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="adm adm-login">
      <h1>Back office</h1>
      {signedInAs !== null && (
        <p className="adm-note">
          You are logged in as {signedInAs}, which is not a staff account.{" "}
          <button type="button" className="adm-link" onClick={() => void logout()}>
            Log out
          </button>
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} className="adm-form" aria-label="Staff login">
        <label>
          Email
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <ErrorNote error={error} />
        {notStaff && (
          <p className="adm-error" role="alert">
            This account is not a staff account: the back office is for staff only.
          </p>
        )}
      </form>
    </main>
  );
}
