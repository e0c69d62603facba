import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Route, Routes } from "react-router";
import { AuthProvider } from "./auth";
import { Layout } from "./Layout";
import { OddsFormatProvider } from "./odds/format";
import { LiveOddsProvider } from "./odds/live";
import { SlipProvider } from "./slip/context";
import { Home } from "./pages/Home";
import { EventPage } from "./pages/EventPage";
import { SportPage } from "./pages/SportPage";
import "./styles.css";

// Pages a visitor does not need on arrival load as their own chunks; the back office is one chunk of its own,
// so a player never downloads it.
const Login = lazy(() => import("./pages/Login"));
const Register = lazy(() => import("./pages/Register"));
const MyBets = lazy(() => import("./pages/MyBets"));
const Wallet = lazy(() => import("./pages/Wallet"));
const Account = lazy(() => import("./pages/Account"));
const AdminApp = lazy(() => import("./admin/AdminApp"));

function App() {
  return (
    <Suspense fallback={<p className="loading">Loading…</p>}>
      <Routes>
        <Route path="/admin/*" element={<AdminApp />} />
        <Route element={<Layout />}>
          <Route index element={<Home />} />
          <Route path="sports/:sport" element={<SportPage />} />
          <Route path="events/:eventId" element={<EventPage />} />
          <Route path="login" element={<Login />} />
          <Route path="register" element={<Register />} />
          <Route path="bets" element={<MyBets />} />
          <Route path="wallet" element={<Wallet />} />
          <Route path="account" element={<Account />} />
          <Route path="*" element={<p className="notice">This page does not exist.</p>} />
        </Route>
      </Routes>
    </Suspense>
  );
}

const root = document.getElementById("root");
if (root === null) throw new Error("no #root element");
createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <AuthProvider>
        <OddsFormatProvider>
          <LiveOddsProvider>
            <SlipProvider>
              <App />
            </SlipProvider>
          </LiveOddsProvider>
        </OddsFormatProvider>
      </AuthProvider>
    </BrowserRouter>
  </StrictMode>,
);
