// The player app's frame: header with navigation, the page, and the bet slip (a side panel on wide screens,
// a drawer at the bottom on phones).
import { Suspense } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { isStaff, useAuth } from "./auth";
import { OddsFormatPicker } from "./odds/format";
import { BetSlip } from "./slip/BetSlip";
import { WalletBadge } from "./components/WalletBadge";

export function Layout() {
  const { me, logout } = useAuth();
  const navigate = useNavigate();
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand" aria-label="Sportsbook home">
          Sportsbook
        </Link>
        <nav aria-label="Main" className="nav">
          <NavLink to="/" end>
            Sports
          </NavLink>
          {me !== null && <NavLink to="/bets">My bets</NavLink>}
          {me !== null && <NavLink to="/wallet">Wallet</NavLink>}
          {/* account security (two-factor sign-in) and gambling limits join Account with their issue */}
          {me !== null && <NavLink to="/account">Account</NavLink>}
          {isStaff(me) && <a href="/admin">Back office</a>}
        </nav>
        <div className="session">
          <OddsFormatPicker />
          {me === null ? (
            <>
              <NavLink to="/login">Log in</NavLink>
              <NavLink to="/register" className="button">
                Join
              </NavLink>
            </>
          ) : (
            <>
              <WalletBadge />
              <button
                type="button"
                className="link"
                onClick={() => {
                  void logout().then(() => navigate("/"));
                }}
              >
                Log out
              </button>
            </>
          )}
        </div>
      </header>
      <div className="body">
        <main id="main" tabIndex={-1}>
          <Suspense fallback={<p className="loading">Loading…</p>}>
            <Outlet />
          </Suspense>
        </main>
        <aside className="slip" aria-label="Bet slip">
          <BetSlip />
        </aside>
      </div>
    </div>
  );
}
