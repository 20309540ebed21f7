package arca.minidfs;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The HDFS contender of `cargo xtask bench hdfs`: what MLflow's HdfsArtifactRepository does,
 * on the Java client that pyarrow's libhdfs calls through JNI (libhdfs itself ships only with
 * a Hadoop distribution, not from a package registry, so MLflow's Python side cannot run here).
 *
 *   Transfer up-file FILE hdfs://host:port/dir    one file into dir/, 1 MiB copies
 *   Transfer up-dir DIR hdfs://host:port/dir      every file under DIR, one after another
 *   Transfer down hdfs://host:port/dir DIR        every file under dir/, one after another
 *
 * Only the transfer is timed (the JVM start and the client's creation are not), as MLflow's
 * side of the other benchmarks is timed. Prints one JSON line: {"secs": ..., "cpu": ...}, cpu
 * being the process's CPU seconds during the transfer.
 */
public class Transfer {
    private static final int CHUNK = 1 << 20;

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Transfer up-file|up-dir|down SRC DST");
            System.exit(2);
        }
        String op = args[0];
        String hdfs = op.equals("down") ? args[1] : args[2];
        Configuration conf = new Configuration();
        // One replica, as the cluster's own default that Arca's client uses (the Java
        // client's built-in default is 3, more than the one DataNode can hold).
        conf.set("dfs.replication", "1");
        FileSystem fs = FileSystem.get(URI.create(hdfs), conf);
        fs.getFileStatus(new Path("/")); // connected before the clock starts
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        switch (op) {
            case "up-file": {
                File f = new File(args[1]);
                upload(fs, f, new Path(new Path(hdfs), f.getName()));
                break;
            }
            case "up-dir": {
                File root = new File(args[1]);
                for (File f : files(root)) {
                    String rel = root.toPath().relativize(f.toPath()).toString();
                    upload(fs, f, new Path(new Path(hdfs), rel));
                }
                break;
            }
            case "down": {
                Path root = new Path(hdfs);
                download(fs, root, root, new File(args[2]));
                break;
            }
            default:
                System.err.println("unknown operation " + op);
                System.exit(2);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
        System.out.println("{\"secs\": " + secs + ", \"cpu\": " + cpu + "}");
        fs.close();
    }

    private static List<File> files(File dir) {
        List<File> out = new ArrayList<>();
        File[] children = dir.listFiles();
        if (children == null) {
            return out;
        }
        java.util.Arrays.sort(children);
        for (File c : children) {
            if (c.isDirectory()) {
                out.addAll(files(c));
            } else {
                out.add(c);
            }
        }
        return out;
    }

    private static void upload(FileSystem fs, File src, Path dst) throws Exception {
        byte[] buf = new byte[CHUNK];
        try (InputStream in = new FileInputStream(src); FSDataOutputStream out = fs.create(dst, true)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
            }
        }
    }

    private static void download(FileSystem fs, Path root, Path dir, File into) throws Exception {
        byte[] buf = new byte[CHUNK];
        for (FileStatus s : fs.listStatus(dir)) {
            String rel = s.getPath().toUri().getPath().substring(root.toUri().getPath().length());
            File local = new File(into, rel);
            if (s.isDirectory()) {
                download(fs, root, s.getPath(), into);
                continue;
            }
            local.getParentFile().mkdirs();
            try (FSDataInputStream in = fs.open(s.getPath()); OutputStream out = new FileOutputStream(local)) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                }
            }
        }
    }
}
