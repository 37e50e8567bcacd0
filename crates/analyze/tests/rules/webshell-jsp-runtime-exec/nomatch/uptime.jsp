<%
String name = request.getParameter("name");
Process p = Runtime.getRuntime().exec("uptime");
out.println("Hello " + name);
%>
