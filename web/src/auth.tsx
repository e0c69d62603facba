// Who is logged in: the token (kept in localStorage) and the account behind it (`GET /api/v1/me`).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ok, saveToken, savedToken, type Schemas } from "./api/client";

export type Me = Schemas["MeOut"];

type Auth = {
  me: Me | null;
  loading: boolean;
  login: (email: string, password: string) => Promise<Me>;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
};

const AuthContext = createContext<Auth | null>(null);

export const STAFF_ROLES = ["admin", "trader", "risk", "payments", "support"] as const;

export function isStaff(me: Me | null): boolean {
  return me !== null && (STAFF_ROLES as readonly string[]).includes(me.role);
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(savedToken() !== null);

  const refresh = useCallback(async () => {
    if (savedToken() === null) {
      setMe(null);
      setLoading(false);
      return;
    }
    try {
      setMe(await ok(api.GET("/api/v1/me")));
    } catch {
      saveToken(null); // expired or revoked
      setMe(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const login = useCallback(async (email: string, password: string) => {
    const session = await ok(api.POST("/api/v1/sessions", { body: { email, password } }));
    saveToken(session.token);
    const account = await ok(api.GET("/api/v1/me"));
    setMe(account);
    return account;
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.DELETE("/api/v1/sessions/current");
    } finally {
      saveToken(null);
      setMe(null);
    }
  }, []);

  const value = useMemo(() => ({ me, loading, login, logout, refresh }), [me, loading, login, logout, refresh]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (auth === null) throw new Error("useAuth outside AuthProvider");
  return auth;
}
