// Placeholder until its page is built (issue 13).
export default function AdminApp() {
  return <p className="notice">AdminApp is being built.</p>;
}
